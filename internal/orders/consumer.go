package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/sqldb"
)

// paymentsConsumer is the durable name of the consumer of payment events
// (also the inbox's consumer name).
const paymentsConsumer = "orders-payments"

// paymentEvents is the consumer of payments.payment.* — one filter subject,
// which NATS servers before 2.10 require. An event is retried for about half
// an hour (20 deliveries) before it is dead-lettered: longer than a checkout
// may take to be placed by the recovery worker (abandonAfter). Eight events
// are applied at once: each is a few round trips to the database, and a
// checkout waits for its payment's event (the handler is idempotent through
// the inbox and judges each event against the order's status, so neither a
// repeat nor the order of events matters).
func (s *Service) paymentEvents() bus.ConsumerConfig {
	return bus.ConsumerConfig{Stream: event.PaymentsStream, Durable: paymentsConsumer,
		FilterSubjects: []string{"payments.payment.*"}, MaxDeliver: 20, Concurrency: 8,
		Backoff: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
		Handler: s.handlePayment}
}

// errNotPlacedYet retries a payment event about an order whose checkout has
// not placed it yet; the recovery worker places it soon.
var errNotPlacedYet = errors.New("the order is not placed yet")

// handlePayment applies a payment event once (inbox):
//
//   - succeeded: a pending order is paid and its stock committed. A payment
//     that succeeds after its order was cancelled (at the payment window's
//     edge, or right after the customer cancelled) or for a checkout that
//     gave up is refunded, never kept.
//   - canceled: a pending order whose payment can no longer be paid is
//     cancelled and its hold released.
//   - failed: a declined attempt; the order goes on waiting for another
//     method until its window closes. refunded: nothing to do here.
//
// Events come in any order and may repeat; each is judged against the
// order's status, so a late or repeated one changes nothing it should not.
func (s *Service) handlePayment(ctx context.Context, env event.Envelope) error {
	if env.Type != event.PaymentSucceeded && env.Type != event.PaymentCanceled {
		return nil
	}
	var pc event.PaymentChanged
	if err := env.Decode(&pc); err != nil {
		return bus.Permanent(err)
	}
	return inbox.Process(ctx, s.db, paymentsConsumer, env, func(tx *sqldb.Tx) error {
		o, err := orderByID(ctx, tx, pc.OrderID)
		if errors.Is(err, ErrNotFound) {
			return bus.Permanent(fmt.Errorf("payment %s is for order %s, which this service "+
				"does not know", pc.PaymentID, pc.OrderID))
		}
		if err != nil {
			return err
		}
		if env.Type == event.PaymentSucceeded {
			return s.paymentSucceeded(ctx, tx, o, pc)
		}
		return s.paymentCanceled(ctx, tx, o, pc)
	})
}

func (s *Service) paymentSucceeded(ctx context.Context, tx *sqldb.Tx, o *Order,
	pc event.PaymentChanged) error {
	switch {
	case o.status == statusCheckout:
		return errNotPlacedYet
	case o.status == statusFailed, o.status == StatusCancelled, o.paymentID != pc.PaymentID:
		s.log.WarnContext(ctx, "orders: a payment succeeded for an order that is not waiting "+
			"for it; refunding it", "order_id", o.id, "order_status", o.status,
			"payment_id", pc.PaymentID)
		return recordRefund(ctx, tx, pc.PaymentID, o.id, "order_"+o.status)
	case o.status != StatusPendingPayment:
		return nil // paid already: a repeat
	}
	read, before := o.status, len(o.history)
	if err := o.MarkPaid(s.clock()); err != nil {
		return err
	}
	if err := s.save(ctx, tx, o, read, before, false); err != nil {
		return err
	}
	return effect.Record(ctx, tx, effectCommit, o.id, stockEffect{OrderID: o.id,
		ReservationID: o.reservationID()})
}

func (s *Service) paymentCanceled(ctx context.Context, tx *sqldb.Tx, o *Order,
	pc event.PaymentChanged) error {
	if o.status != StatusPendingPayment || o.paymentID != pc.PaymentID {
		return nil // cancelled by this service, or long past it
	}
	// Payments may close the window itself, a moment before this service
	// does: a cancellation at the window's end is the window closing.
	now, reason := s.clock(), ReasonPaymentCanceled
	if !now.Before(o.paymentDueAt.Add(-min(s.window/10, 5*time.Second))) {
		reason = ReasonWindowClosed
	}
	read, before := o.status, len(o.history)
	if _, err := o.Cancel(reason, now); err != nil {
		return err
	}
	if err := s.save(ctx, tx, o, read, before, false); err != nil {
		return err
	}
	return effect.Record(ctx, tx, effectRelease, o.id, stockEffect{OrderID: o.id,
		ReservationID: o.reservationID()})
}
