package payments

import (
	"context"
	"errors"
	"fmt"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/sqldb"
)

// Confirm confirms the caller's payment with a payment method and returns
// the payment as it now stands: succeeded, processing while the provider
// decides, or requires_payment_method with failure_code after a decline —
// then the customer may confirm again with another method. A payment that
// succeeded, was refunded, was canceled or is processing is ErrTransition.
// Another customer's payment is ErrNotFound, also for an admin's (it is
// the customer's to pay).
//
// Each attempt is numbered, and recorded with its payment method before the
// provider is called with a key derived from the payment's id and the
// number. A request that finds the last attempt without an answer — the
// process stopped, or the provider could not be reached, between the call
// and the record of its answer — sends that attempt again with the same key
// and method, so the provider answers it as the first time and charges once;
// then, when the request named another method and the payment may still be
// paid, that method gets an attempt of its own.
func (s *Service) Confirm(ctx context.Context, caller auth.Caller, id, method string) (*Payment, error) {
	p, err := paymentByID(ctx, s.db, id)
	if err == nil && p.CustomerID != caller.UserID {
		err = ErrNotFound
	}
	if err == nil {
		p, err = s.confirm(ctx, p, method)
	}
	if err != nil {
		return nil, fmt.Errorf("confirm payment %s: %w", id, err)
	}
	return p, nil
}

// confirm confirms p, as just read, with method. Each attempt locks and
// reads the payment again; p's IntentID, once set, never changes, so p needs
// no second read to name the provider's PaymentIntent.
func (s *Service) confirm(ctx context.Context, p *Payment, method string) (*Payment, error) {
	for {
		var err error
		if p.IntentID == "" {
			if p, err = s.makeIntent(ctx, p); err != nil {
				return nil, err
			}
		}
		attempt, sent, err := s.startAttempt(ctx, p, method)
		if err != nil {
			return nil, err
		}
		key := confirmKey(p.ID, attempt)
		in, err := s.provider.Confirm(ctx, p.IntentID, sent, key)
		if p, err = s.attemptAnswered(ctx, p, attempt, key, in, err); err != nil {
			return nil, err
		}
		if sent == method || !p.confirmable() {
			return p, nil
		}
		// The attempt resumed was another method's, and was declined: now
		// this request's method.
	}
}

// startAttempt records a new confirm attempt with method, or returns the
// last attempt when its answer was never recorded, with the method it was
// made with.
func (s *Service) startAttempt(ctx context.Context, p *Payment, method string) (int, string, error) {
	var attempt int
	var sent string
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if p, err = paymentForUpdate(ctx, tx, p.ID); err != nil {
			return err
		}
		if p.PendingMethod != "" && p.confirmable() {
			attempt, sent = p.Attempts, p.PendingMethod
			return nil
		}
		if !p.confirmable() {
			return ErrTransition
		}
		now := s.clock()
		p.Attempts++
		p.PendingMethod, p.UpdatedAt = method, now
		attempt, sent = p.Attempts, method
		if err := updatePayment(ctx, tx, p, now.Add(s.checkAfter)); err != nil {
			return err
		}
		return appendLedger(ctx, tx, s.entry(p, "confirm", confirmKey(p.ID, attempt), "requested", method), now)
	})
	return attempt, sent, err
}

// attemptAnswered records the provider's answer to a confirm attempt (or
// its error) and returns the payment as it now stands.
func (s *Service) attemptAnswered(ctx context.Context, p *Payment, attempt int, key string, in Intent,
	callErr error) (*Payment, error) {
	settle := func(p *Payment) {
		if p.Attempts == attempt {
			p.PendingMethod = ""
		}
	}
	switch {
	case callErr == nil:
		if in.AttemptRef == "" {
			in.AttemptRef = key // a decline without a charge id is this attempt's
		}
		return s.applyAnswer(ctx, p.ID, "confirm", key, in, settle)
	case errors.Is(callErr, ErrUnavailable):
		// No answer: the attempt stays open, for a retry or the reconciler.
		return nil, s.callFailed(ctx, p, "confirm", key, callErr)
	}
	// Refused: the attempt made no charge and is over.
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		cur, err := paymentForUpdate(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		settle(cur)
		return updatePayment(ctx, tx, cur, s.clock().Add(s.checkAfter))
	})
	failed := s.callFailed(ctx, p, "confirm", key, callErr)
	if err != nil {
		return nil, err
	}
	if errors.Is(callErr, errProviderState) {
		// The provider's PaymentIntent moved on without us: learn where.
		if _, err := s.sync(ctx, p); err != nil {
			return nil, err
		}
	}
	return nil, failed
}
