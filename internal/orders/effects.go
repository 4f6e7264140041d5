package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
)

// The effects this service records beside an order's change, and performs
// afterwards with retries (effect.Runner): calls to the catalog and to
// payments that must happen exactly when the change did. Each is keyed by
// the order (a refund by the payment), so it is recorded once however often
// the change that records it is retried.
const (
	effectCommit        = "catalog.commit"  // paid: the held units are sold
	effectRelease       = "catalog.release" // unpaid and cancelled, or never placed: the hold ends
	effectRestock       = "catalog.restock" // paid and cancelled: the units go back on hand
	effectCancelPayment = "payments.cancel" // unpaid and cancelled: the payment can no longer be paid
	effectRefund        = "payments.refund" // paid, or paid after it was cancelled: the money goes back
)

// stockEffect is the payload of the catalog effects.
type stockEffect struct {
	OrderID       string `json:"order_id"`
	ReservationID string `json:"reservation_id"`
}

// paymentEffect is the payload of the payments effects.
type paymentEffect struct {
	PaymentID string `json:"payment_id"`
	OrderID   string `json:"order_id"`
	Reason    string `json:"reason,omitempty"`
}

// recordRefund records in tx that the payment of order orderID is to be
// refunded, once whatever asks for it again.
func recordRefund(ctx context.Context, tx *sqldb.Tx, paymentID, orderID, reason string) error {
	return effect.Record(ctx, tx, effectRefund, paymentID, paymentEffect{PaymentID: paymentID,
		OrderID: orderID, Reason: reason})
}

// effectsRunner performs the recorded effects.
func (s *Service) effectsRunner(cfg effect.RunnerConfig) *effect.Runner {
	cfg.Handlers = map[string]effect.Handler{
		effectCommit:        s.commitStock,
		effectRelease:       s.releaseStock,
		effectRestock:       s.restockStock,
		effectCancelPayment: s.cancelPayment,
		effectRefund:        s.refundPayment,
	}
	if cfg.Backoff == (backoff.Policy{}) {
		// Sooner than the runner's default: a customer waits on these.
		cfg.Backoff = backoff.Policy{Initial: time.Second, Max: 5 * time.Minute, Jitter: 0.2}
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 30 // about two hours
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	return effect.NewRunner(s.db, cfg)
}

// commitStock sells a paid order's held units. When the hold can no longer
// be committed — its time ran out before the payment arrived, and the units
// may have been sold to someone else — the order cannot be filled: it is
// cancelled and its payment refunded, never kept.
func (s *Service) commitStock(ctx context.Context, e effect.Effect) error {
	var p stockEffect
	if err := e.Decode(&p); err != nil {
		return bus.Permanent(err)
	}
	err := s.catalog.transition(ctx, p.ReservationID, "commit")
	if !hasCode(err, "reservation_expired") && !hasCode(err, "invalid_transition") {
		return notFoundIsPermanent(err)
	}
	return s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		o, oerr := orderByID(ctx, tx, p.OrderID)
		if oerr != nil {
			return oerr
		}
		if o.status != StatusPaid {
			return nil // cancelled meanwhile: its refund is recorded already
		}
		s.log.WarnContext(ctx, "orders: a paid order's stock could not be committed; cancelling "+
			"and refunding it", "order_id", p.OrderID, "err", err)
		read, before := o.status, len(o.history)
		if _, err := o.Cancel(ReasonStockLapsed, s.clock()); err != nil {
			return err
		}
		if err := s.save(ctx, tx, o, read, before, true); err != nil {
			return err
		}
		return recordRefund(ctx, tx, o.paymentID, o.id, ReasonStockLapsed)
	})
}

// releaseStock ends the hold of an order that was never paid. A reservation
// the catalog does not know was never made (the checkout stopped before it),
// so there is nothing to release.
func (s *Service) releaseStock(ctx context.Context, e effect.Effect) error {
	var p stockEffect
	if err := e.Decode(&p); err != nil {
		return bus.Permanent(err)
	}
	err := s.catalog.transition(ctx, p.ReservationID, "release")
	if errs.KindOf(err) == errs.NotFound {
		return nil
	}
	if hasCode(err, "invalid_transition") {
		return bus.Permanent(fmt.Errorf("release the hold of unpaid order %s: %w", p.OrderID, err))
	}
	return err
}

// restockStock returns a cancelled paid order's units to the shelf. Its
// reservation may not be committed yet (the order was cancelled right after
// its payment, before the commit ran): then the hold itself is released,
// which frees the same units, and the commit that comes later finds the
// order cancelled.
func (s *Service) restockStock(ctx context.Context, e effect.Effect) error {
	var p stockEffect
	if err := e.Decode(&p); err != nil {
		return bus.Permanent(err)
	}
	err := s.catalog.transition(ctx, p.ReservationID, "restock")
	if !hasCode(err, "invalid_transition") {
		return notFoundIsPermanent(err)
	}
	r, rerr := s.catalog.reservation(ctx, p.ReservationID)
	if rerr != nil {
		return notFoundIsPermanent(rerr)
	}
	switch r.Status {
	case "held":
		err = s.catalog.transition(ctx, p.ReservationID, "release")
		if hasCode(err, "invalid_transition") {
			return errors.New("the hold was committed meanwhile; restock next time")
		}
		return err
	case "released", "restocked":
		return nil
	}
	return err
}

// cancelPayment cancels the payment of an order cancelled unpaid. A payment
// that succeeded meanwhile cannot be cancelled: it is refunded instead (its
// succeeded event, finding the order cancelled, asks for the same refund,
// which is recorded and made once).
func (s *Service) cancelPayment(ctx context.Context, e effect.Effect) error {
	var p paymentEffect
	if err := e.Decode(&p); err != nil {
		return bus.Permanent(err)
	}
	err := s.payments.cancel(ctx, p.PaymentID)
	if hasCode(err, "invalid_transition") {
		return s.db.Tx(ctx, func(tx *sqldb.Tx) error {
			return recordRefund(ctx, tx, p.PaymentID, p.OrderID, "order_cancelled")
		})
	}
	return notFoundIsPermanent(err)
}

// refundPayment refunds a payment in full; payments never refunds twice. A
// payment that has not succeeded yet (still processing) is tried again later;
// a refund the provider refused is left to an operator (the effect fails,
// logged, and stays in the effects table).
func (s *Service) refundPayment(ctx context.Context, e effect.Effect) error {
	var p paymentEffect
	if err := e.Decode(&p); err != nil {
		return bus.Permanent(err)
	}
	err := s.payments.refund(ctx, p.PaymentID, p.Reason)
	if hasCode(err, "refund_failed") {
		return bus.Permanent(fmt.Errorf("refund payment %s of order %s: %w", p.PaymentID, p.OrderID, err))
	}
	return notFoundIsPermanent(err)
}

// notFoundIsPermanent marks a peer's 404 permanent: retrying cannot make
// the thing exist.
func notFoundIsPermanent(err error) error {
	if errs.KindOf(err) == errs.NotFound {
		return bus.Permanent(err)
	}
	return err
}
