package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
)

// Refund refunds a succeeded payment: in.Amount of it, or all that is not
// yet refunded when in.Amount is absent. It returns the payment, refunded
// once nothing is left. A request is known by its amount (or its absence)
// and reason: a repeat finds the refund it made and never refunds twice, so
// two partial refunds of the same amount need two reasons. The refunds of a
// payment never add up to more than it captured (an amount past what is
// left is a 422 naming amount). A payment that has not succeeded is
// ErrTransition; a refund the provider refused for good is ErrRefundFailed,
// also on a repeat.
func (s *Service) Refund(ctx context.Context, id string, in RefundRequest) (*Payment, error) {
	p, r, err := s.startRefund(ctx, id, in)
	if err == nil && r != nil && r.Status == refundPending {
		p, err = s.runRefund(ctx, p, r)
	}
	if err == nil && r != nil && r.Status == refundFailed {
		err = ErrRefundFailed
	}
	if err != nil {
		return nil, fmt.Errorf("refund payment %s: %w", id, err)
	}
	return p, nil
}

// startRefund records the refund a request asks for, pending, or returns
// the one a former request with its key made (nil when nothing is left to
// refund).
func (s *Service) startRefund(ctx context.Context, id string, in RefundRequest) (*Payment, *Refund, error) {
	var p *Payment
	var r *Refund
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if p, err = paymentForUpdate(ctx, tx, id); err != nil {
			return err
		}
		if p.Status != Succeeded && p.Status != Refunded {
			return ErrTransition
		}
		if in.Amount != nil && in.Amount.Currency != "" && in.Amount.Currency != p.Amount.Currency {
			return errs.Invalidf("amount.currency", "must be the payment's currency, %s", p.Amount.Currency)
		}
		key := in.key()
		if r, err = refundByKey(ctx, tx, p.ID, key); err != nil || r != nil {
			return err
		}
		committed, err := committedRefunds(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		left := p.Amount.Amount - committed
		amount := left
		if in.Amount != nil {
			amount = in.Amount.Amount
		}
		switch {
		case amount > left:
			return errs.Invalidf("amount", "must not exceed the %d minor units not yet refunded", left)
		case amount == 0:
			return nil // all of it is refunded or on its way
		}
		now := s.clock()
		r = &Refund{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID, RequestKey: key, Amount: amount,
			Reason: in.Reason, Status: refundPending, CreatedAt: now}
		if err := insertRefund(ctx, tx, r); err != nil {
			return err
		}
		p.UpdatedAt = now
		if err := updatePayment(ctx, tx, p, now.Add(s.checkAfter)); err != nil {
			return err
		}
		e := s.entry(p, "refund", refundKey(r.ID), "requested", in.Reason)
		e.Amount, e.ObjectID = &Money{Amount: amount, Currency: p.Amount.Currency}, r.ID
		return appendLedger(ctx, tx, e, now)
	})
	if err != nil {
		return nil, nil, err
	}
	return p, r, nil
}

// runRefund asks the provider for a pending refund, with the key derived
// from its id, and records the answer: on success the payment's refunded
// total grows (refunded when it reaches the amount) and
// payments.payment.refunded is announced. When the provider cannot be
// reached the refund stays pending, for a repeat or the reconciler.
func (s *Service) runRefund(ctx context.Context, p *Payment, r *Refund) (*Payment, error) {
	key := refundKey(r.ID)
	providerID, callErr := s.provider.Refund(ctx, RefundIntent{IntentID: p.IntentID, RefundID: r.ID,
		PaymentID: p.ID, OrderID: p.OrderID, Amount: r.Amount, Reason: r.Reason, Key: key})
	if errors.Is(callErr, ErrUnavailable) {
		return nil, s.callFailed(ctx, p, "refund", key, callErr)
	}
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		now := s.clock()
		done := *r
		done.Status, done.ProviderRefundID = refundSucceeded, providerID
		if callErr != nil {
			done.Status, done.Failure = refundFailed, callErr.Error()
		}
		first, serr := settleRefund(ctx, tx, &done, now)
		if serr != nil {
			return serr
		}
		var perr error
		if p, perr = paymentForUpdate(ctx, tx, p.ID); perr != nil || !first {
			return perr // recorded meanwhile, by a concurrent resume
		}
		amount := Money{Amount: r.Amount, Currency: p.Amount.Currency}
		e := s.entry(p, "refund", key, done.Status, done.Failure)
		e.Amount, e.ObjectID = &amount, providerID
		if done.Status == refundSucceeded {
			p.Refunded += r.Amount
			if p.Refunded == p.Amount.Amount {
				p.Status = Refunded
			}
			if err := s.announce(ctx, tx, event.PaymentRefunded, p, "", &amount, now); err != nil {
				return err
			}
		}
		p.UpdatedAt = now
		if err := updatePayment(ctx, tx, p, now.Add(s.checkAfter)); err != nil {
			return err
		}
		*r = done
		return appendLedger(ctx, tx, e, now)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
