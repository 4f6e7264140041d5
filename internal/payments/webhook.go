package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/stripe/stripe-go/v82"

	"emporium/internal/platform/sqldb"
)

// eventStatus is the PaymentIntent status each handled event type reports.
var eventStatus = map[stripe.EventType]string{
	"payment_intent.succeeded":       Succeeded,
	"payment_intent.payment_failed":  RequiresPaymentMethod,
	"payment_intent.canceled":        Canceled,
	"payment_intent.processing":      Processing,
	"payment_intent.requires_action": RequiresAction,
}

// HandleEvent processes a verified Stripe event once: its id is recorded
// (and kept 30 days) in the same transaction as its effect, so a redelivery
// changes nothing. The payment_intent.* events above move the payment they
// name — found by the PaymentIntent's id, else by the payment_id or
// order_id in its metadata — by the rules of Payment.observe, with the
// event's created time as the time of its state, so events that arrive out
// of order never move a payment backwards. Every event is written to the
// ledger, those this service does not act on and those about a payment it
// does not know (logged) included. The sandbox sends its events here too.
func (s *Service) HandleEvent(ctx context.Context, ev stripe.Event) error {
	status, handled := eventStatus[ev.Type]
	var in Intent
	var pi stripe.PaymentIntent
	if handled && (ev.Data == nil || json.Unmarshal(ev.Data.Raw, &pi) != nil) {
		handled = false // no PaymentIntent in it: recorded, and nothing else
	}
	if handled {
		in = intentOf(&pi, ev.Created)
		in.Status = status // the event's own word for what happened
		if status == RequiresPaymentMethod && in.FailureCode == "" {
			in.FailureCode = "card_declined"
		}
		if in.AttemptRef == "" {
			in.AttemptRef = ev.ID
		}
	}
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		now := s.clock()
		first, err := recordWebhookEvent(ctx, tx, ev.ID, string(ev.Type), now)
		if err != nil || !first {
			return err
		}
		e := ledgerEntry{Source: ledgerWebhook, Action: string(ev.Type), Provider: s.provider.Name(),
			IntentID: in.ID, ObjectID: ev.ID, Outcome: "ignored", Detail: in.FailureCode}
		if !handled || in.ID == "" && len(in.Metadata) == 0 {
			return appendLedger(ctx, tx, e, now)
		}
		if in.Amount.Amount > 0 {
			e.Amount = &in.Amount
		}
		p, err := paymentForEvent(ctx, tx, in)
		if errors.Is(err, ErrNotFound) {
			s.log.WarnContext(ctx, "a Stripe event names no known payment", slog.String("event_id", ev.ID),
				slog.String("type", string(ev.Type)), slog.String("intent_id", in.ID))
			e.Outcome = "unknown payment"
			return appendLedger(ctx, tx, e, now)
		}
		if err != nil {
			return err
		}
		if err := s.apply(ctx, tx, p, in, false, now); err != nil {
			return err
		}
		e.PaymentID, e.OrderID, e.Outcome = p.ID, p.OrderID, p.Status
		return appendLedger(ctx, tx, e, now)
	})
	if err != nil {
		return fmt.Errorf("stripe event %s: %w", ev.ID, err)
	}
	return nil
}
