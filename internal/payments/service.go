package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
)

// Service holds the payments use cases. It owns the transactions, writes
// events to the outbox and rows to the ledger inside them, and never holds a
// transaction open across a call to the provider: a call is recorded as
// requested (with its idempotency key) in one transaction, made, and its
// answer applied in the next, so a stop between the two leaves a record
// that the next attempt — a retried request or the reconciler — resumes
// with the same key.
type Service struct {
	db       *sqldb.DB
	provider Provider
	currency string
	log      *slog.Logger
	now      func() time.Time

	checkAfter     time.Duration // how long a payment may stay unsettled before the reconciler asks
	reconcileEvery time.Duration
}

// webhookRetention is how long a processed Stripe event id is kept: longer
// than Stripe goes on retrying an event (three days).
const webhookRetention = 30 * 24 * time.Hour

// clock returns the time to store: UTC, in microseconds.
func (s *Service) clock() time.Time { return sqldb.Time(s.now()) }

// Payment returns a payment.
func (s *Service) Payment(ctx context.Context, id string) (*Payment, error) {
	p, err := paymentByID(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("payment %s: %w", id, err)
	}
	return p, nil
}

// Create makes the payment of an order, or returns the one it has (created
// is false then): idempotent by order id. A repeat for another amount or
// customer is ErrMismatch. The payment is stored first and the provider's
// PaymentIntent made after, with a key derived from the payment's id, so
// a repeat after a failed or interrupted call asks the provider again with
// the same key and never makes a second PaymentIntent.
func (s *Service) Create(ctx context.Context, in CreateRequest) (p *Payment, created bool, err error) {
	if err := in.check(s.currency); err != nil {
		return nil, false, err
	}
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		created = false
		if p, err = paymentByOrder(ctx, tx, in.OrderID); err == nil {
			return p.repeatedWith(in)
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.clock()
		p = &Payment{ID: uuid.Must(uuid.NewV7()).String(), OrderID: in.OrderID, CustomerID: in.CustomerID,
			Provider: s.provider.Name(), Amount: in.Amount, Status: RequiresPaymentMethod,
			ProviderAt: unix(now), CreatedAt: now, UpdatedAt: now}
		if err := insertPayment(ctx, tx, p, now.Add(s.checkAfter)); err != nil {
			return err
		}
		created = true
		return appendLedger(ctx, tx, s.entry(p, "create", createKey(p.ID), "requested", ""), now)
	})
	if sqldb.IsUnique(err, "") {
		// A concurrent request for the same order committed first.
		if p, err = paymentByOrder(ctx, s.db, in.OrderID); err == nil {
			created, err = false, p.repeatedWith(in)
		}
	}
	if err == nil && p.IntentID == "" {
		p, err = s.makeIntent(ctx, p)
	}
	if err != nil {
		return nil, false, fmt.Errorf("create payment for order %s: %w", in.OrderID, err)
	}
	return p, created, nil
}

// repeatedWith checks a repeat of p's order: ErrMismatch unless it asks for
// the same amount for the same customer.
func (p *Payment) repeatedWith(in CreateRequest) error {
	if p.Amount != in.Amount || p.CustomerID != in.CustomerID {
		return ErrMismatch
	}
	return nil
}

// withIntent returns the payment, making its PaymentIntent first when the
// provider has not answered the create yet.
func (s *Service) withIntent(ctx context.Context, id string) (*Payment, error) {
	p, err := paymentByID(ctx, s.db, id)
	if err != nil || p.IntentID != "" {
		return p, err
	}
	return s.makeIntent(ctx, p)
}

// makeIntent asks the provider for p's PaymentIntent and records it.
func (s *Service) makeIntent(ctx context.Context, p *Payment) (*Payment, error) {
	key := createKey(p.ID)
	in, err := s.provider.Create(ctx, CreateIntent{PaymentID: p.ID, OrderID: p.OrderID,
		CustomerID: p.CustomerID, Amount: p.Amount, Key: key})
	if err != nil {
		return nil, s.callFailed(ctx, p, "create", key, err)
	}
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if p, err = paymentForUpdate(ctx, tx, p.ID); err != nil || p.IntentID != "" {
			return err // recorded meanwhile, by a concurrent request
		}
		now := s.clock()
		p.IntentID, p.ClientSecret, p.UpdatedAt = in.ID, in.ClientSecret, now
		if err := updatePayment(ctx, tx, p, now.Add(s.checkAfter)); err != nil {
			return err
		}
		detail := ""
		if in.Amount.Amount != p.Amount.Amount {
			detail = fmt.Sprintf("the provider reports amount %d", in.Amount.Amount)
		}
		e := s.entry(p, "create", key, in.Status, detail)
		return appendLedger(ctx, tx, e, now)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Cancel cancels an unpaid payment at the provider: canceled (again for a
// canceled one), or ErrTransition when it succeeded — or is processing,
// which the provider does not let go.
func (s *Service) Cancel(ctx context.Context, id string) (*Payment, error) {
	p, err := s.withIntent(ctx, id)
	if err == nil {
		p, err = s.cancel(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("cancel payment %s: %w", id, err)
	}
	return p, nil
}

func (s *Service) cancel(ctx context.Context, p *Payment) (*Payment, error) {
	switch {
	case p.Status == Canceled:
		return p, nil
	case p.settled():
		return nil, ErrTransition
	}
	// The key changes with the state the cancel is asked in: Stripe replays
	// a refusal for a key, and a payment refused while processing may be
	// cancelable once its attempt is declined.
	key := cancelKey(p.ID) + fmt.Sprintf("-%d-%s", p.Attempts, p.Status)
	if err := s.record(ctx, s.entry(p, "cancel", key, "requested", "")); err != nil {
		return nil, err
	}
	in, err := s.provider.Cancel(ctx, p.IntentID, key)
	if errors.Is(err, errProviderState) {
		// The provider's PaymentIntent moved on (it succeeded, or is
		// processing): learn where it is.
		s.callFailed(ctx, p, "cancel", key, err)
		if p, err = s.sync(ctx, p); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, s.callFailed(ctx, p, "cancel", key, err)
	} else if p, err = s.applyAnswer(ctx, p.ID, "cancel", key, in, nil); err != nil {
		return nil, err
	}
	if p.Status != Canceled {
		return nil, ErrTransition
	}
	return p, nil
}

// sync asks the provider for p's PaymentIntent and applies the answer.
func (s *Service) sync(ctx context.Context, p *Payment) (*Payment, error) {
	in, err := s.provider.Retrieve(ctx, p.IntentID)
	if err != nil {
		return nil, s.callFailed(ctx, p, "retrieve", "", err)
	}
	return s.applyAnswer(ctx, p.ID, "retrieve", "", in, nil)
}

// applyAnswer applies a provider's answer to a call about a payment, and
// records it in the ledger. settle, when not nil, also runs in the
// transaction (a confirm attempt's answer is recorded there).
func (s *Service) applyAnswer(ctx context.Context, id, action, key string, in Intent,
	settle func(p *Payment)) (*Payment, error) {
	var p *Payment
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if p, err = paymentForUpdate(ctx, tx, id); err != nil {
			return err
		}
		if settle != nil {
			settle(p)
		}
		now := s.clock()
		if err := s.apply(ctx, tx, p, in, true, now); err != nil {
			return err
		}
		e := s.entry(p, action, key, in.Status, in.FailureCode)
		e.ObjectID = in.AttemptRef
		return appendLedger(ctx, tx, e, now)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// apply applies the provider's view of p's PaymentIntent (see
// Payment.observe), announces what changed through the outbox — a success
// and a cancellation once, a declined attempt once per attempt — and
// stores p. fresh is true for an answer to our own call, false for an
// event.
func (s *Service) apply(ctx context.Context, tx *sqldb.Tx, p *Payment, in Intent, fresh bool,
	now time.Time) error {
	c := p.observe(in, fresh)
	if c.failed != "" {
		isNew, err := recordFailure(ctx, tx, p.ID, in.AttemptRef, c.failed, now)
		if err != nil {
			return err
		}
		if isNew {
			c.moved = true
			if err := s.announce(ctx, tx, event.PaymentFailed, p, c.failed, nil, now); err != nil {
				return err
			}
		}
	}
	if c.succeeded {
		if err := s.announce(ctx, tx, event.PaymentSucceeded, p, "", nil, now); err != nil {
			return err
		}
	}
	if c.canceled {
		if err := s.announce(ctx, tx, event.PaymentCanceled, p, "", nil, now); err != nil {
			return err
		}
	}
	if c.moved {
		p.UpdatedAt = now
	}
	return updatePayment(ctx, tx, p, now.Add(s.checkAfter))
}

// announce writes a payments.payment.* event about p to the outbox.
func (s *Service) announce(ctx context.Context, tx *sqldb.Tx, typ string, p *Payment, failure string,
	refund *Money, at time.Time) error {
	data := event.PaymentChanged{PaymentID: p.ID, OrderID: p.OrderID, CustomerID: p.CustomerID,
		Provider: p.Provider, Status: p.Status, Amount: p.Amount, FailureCode: failure, At: at}
	if typ == event.PaymentRefunded {
		data.Refund = refund
		data.Refunded = &Money{Amount: p.Refunded, Currency: p.Amount.Currency}
	}
	env, err := event.New(typ, event.PaymentsSource, data)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, env)
}

// entry starts a ledger entry about a call for p.
func (s *Service) entry(p *Payment, action, key, outcome, detail string) ledgerEntry {
	amount := p.Amount
	return ledgerEntry{PaymentID: p.ID, OrderID: p.OrderID, Source: ledgerCall, Action: action,
		Provider: p.Provider, IntentID: p.IntentID, Key: key, Amount: &amount, Outcome: outcome, Detail: detail}
}

// record appends e to the ledger in a transaction of its own.
func (s *Service) record(ctx context.Context, e ledgerEntry) error {
	return appendLedger(ctx, s.db, e, s.clock())
}

// callFailed records a failed call in the ledger and returns the error to
// answer: the provider's kind (ErrUnavailable, ErrUnknownMethod) or
// ErrTransition for a PaymentIntent in the wrong status; anything else is
// an internal error. The ledger row is best effort: the database may be
// what failed.
func (s *Service) callFailed(ctx context.Context, p *Payment, action, key string, err error) error {
	if lerr := s.record(ctx, s.entry(p, action, key, "error", err.Error())); lerr != nil {
		s.log.WarnContext(ctx, "cannot record a failed provider call in the ledger",
			slog.String("payment_id", p.ID), slog.String("action", action), slog.String("error", lerr.Error()))
	}
	switch {
	case errors.Is(err, errProviderState):
		return fmt.Errorf("%s: %w: %w", action, ErrTransition, err)
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrUnknownMethod):
		return fmt.Errorf("%s: %w", action, err)
	case errs.KindOf(err) == errs.Unavailable:
		return fmt.Errorf("%s: %w: %w", action, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", action, err)
}
