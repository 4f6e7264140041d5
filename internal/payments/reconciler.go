package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/periodic"
	"emporium/internal/platform/sqldb"
)

// reconcileBatch is how many due payments the reconciler reads at a time.
const reconcileBatch = 100

// Reconcile settles what a lost webhook or an interrupted call left
// unsettled, and reports how many payments it looked at. A payment is due
// once it has stayed unsettled for checkAfter: processing or
// requires_action, a confirm attempt without a recorded answer, no
// PaymentIntent yet, or a refund without an answer. For each, it makes the
// PaymentIntent (with the create's key), resumes pending refunds (with
// their keys), and asks the provider where the PaymentIntent stands,
// applying the answer as any other. A payment still unsettled afterwards
// is due again checkAfter later.
//
// Several replicas may reconcile at once: each claims a payment by moving
// its check time with a conditional update before it calls the provider,
// so one replica looks at each. Only the database being down (or ctx
// ending) stops a round; a payment that fails is logged and tried at its
// next check. Each round also forgets Stripe event ids older than 30 days.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	now := s.clock()
	due, err := duePayments(ctx, s.db, now, reconcileBatch)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	looked := 0
	for _, d := range due {
		claimed, err := claimCheck(ctx, s.db, d, now.Add(s.checkAfter))
		if err != nil {
			return looked, fmt.Errorf("reconcile: %w", err)
		}
		if !claimed {
			continue // another replica's
		}
		looked++
		if err := s.reconcile(ctx, d.id); err != nil {
			if ctx.Err() != nil || errors.Is(err, sqldb.ErrUnavailable) {
				return looked, fmt.Errorf("reconcile: %w", err)
			}
			level := slog.LevelError
			if errs.KindOf(err) == errs.Unavailable {
				level = slog.LevelWarn // the provider: the next check tries again
			}
			s.log.Log(ctx, level, "cannot reconcile a payment; it is tried again at its next check",
				slog.String("payment_id", d.id), slog.String("error", err.Error()))
		}
	}
	if _, err := forgetWebhookEvents(ctx, s.db, now.Add(-webhookRetention), 1000); err != nil {
		return looked, fmt.Errorf("reconcile: forget old webhook events: %w", err)
	}
	return looked, nil
}

// reconcile settles one payment as far as the provider lets it.
func (s *Service) reconcile(ctx context.Context, id string) error {
	p, err := s.withIntent(ctx, id)
	if err != nil {
		return err
	}
	refunds, err := pendingRefunds(ctx, s.db, p.ID)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		if p, err = s.runRefund(ctx, p, r); err != nil {
			return err
		}
	}
	if p.PendingMethod == "" && p.Status != Processing && p.Status != RequiresAction {
		return nil
	}
	in, err := s.provider.Retrieve(ctx, p.IntentID)
	if err != nil {
		return s.callFailed(ctx, p, "retrieve", "", err)
	}
	_, err = s.applyAnswer(ctx, p.ID, "retrieve", "", in, func(p *Payment) {
		// The open attempt's answer is in what the provider reports now,
		// unless the PaymentIntent is still deciding.
		if in.Status != Processing {
			p.PendingMethod = ""
		}
	})
	return err
}

// reconciler runs Reconcile every interval until ctx ends. It returns the
// error of a round that could not reach the database, for the runtime to
// restart it after a pause.
func (s *Service) reconciler(interval time.Duration) func(context.Context) error {
	return periodic.Every(interval, func(ctx context.Context) error {
		_, err := s.Reconcile(ctx)
		return err
	})
}
