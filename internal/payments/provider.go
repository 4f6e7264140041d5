package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Provider is the payment provider as this service uses it: Stripe, or the
// sandbox. Every mutating call takes an idempotency key derived from our own
// ids, so a call repeated with the same key — a retried request, a resumed
// one after a crash — is answered as the first one was and never charges
// again.
//
// A declined payment method is an answer, not an error: the Intent comes
// back requires_payment_method with FailureCode set. Errors are
// ErrUnknownMethod (no such payment method), errProviderState (the
// PaymentIntent's status does not allow the call), ErrUnavailable (the
// provider could not be reached or failed; try again with the same key), or
// errRefused (the provider refused the request for good).
type Provider interface {
	// Name is the provider's name in payment answers: "stripe" or "sandbox".
	Name() string
	// Create makes a PaymentIntent for an order's amount, captured
	// automatically when confirmed.
	Create(ctx context.Context, in CreateIntent) (Intent, error)
	// Confirm confirms the PaymentIntent with a payment method.
	Confirm(ctx context.Context, intentID, method, key string) (Intent, error)
	// Cancel cancels an unpaid PaymentIntent.
	Cancel(ctx context.Context, intentID, key string) (Intent, error)
	// Refund refunds amount of a succeeded PaymentIntent and returns the
	// provider's refund id.
	Refund(ctx context.Context, in RefundIntent) (string, error)
	// Retrieve reads the PaymentIntent as it stands.
	Retrieve(ctx context.Context, intentID string) (Intent, error)
	// ParseWebhook verifies a webhook request's Stripe-Signature header over
	// its raw body and returns the event; ErrBadSignature when it does not
	// verify.
	ParseWebhook(payload []byte, signature string) (stripe.Event, error)
}

// CreateIntent is what Create asks for.
type CreateIntent struct {
	PaymentID  string
	OrderID    string
	CustomerID string
	Amount     Money
	Key        string
}

// RefundIntent is what Refund asks for.
type RefundIntent struct {
	IntentID  string
	RefundID  string
	PaymentID string
	OrderID   string
	Amount    int64
	Reason    string
	Key       string
}

// Intent is a PaymentIntent as the provider reports it.
type Intent struct {
	ID           string
	ClientSecret string
	Status       string
	Amount       Money
	// FailureCode and AttemptRef describe the last declined attempt:
	// the code (card_declined, insufficient_funds, …) and what identifies
	// the attempt (its charge), so that each is announced once.
	FailureCode string
	AttemptRef  string
	// Metadata are the ids we gave the provider (order_id, payment_id).
	Metadata map[string]string
	// At is when the provider reported this state, in Unix seconds: an
	// event's created time, or the time of the call's answer.
	At int64
}

var (
	errProviderState = errors.New("the PaymentIntent's status does not allow this call")
	errRefused       = errors.New("the provider refused the request")
)

// idempotency keys, derived from our ids: the same operation on the same
// payment always sends the same key.
func createKey(paymentID string) string { return "emporium-payment-" + paymentID + "-create" }
func confirmKey(paymentID string, attempt int) string {
	return fmt.Sprintf("emporium-payment-%s-confirm-%d", paymentID, attempt)
}
func cancelKey(paymentID string) string { return "emporium-payment-" + paymentID + "-cancel" }
func refundKey(refundID string) string  { return "emporium-refund-" + refundID }

// intentOf reads a Stripe PaymentIntent, from an API answer or an event.
func intentOf(pi *stripe.PaymentIntent, at int64) Intent {
	in := Intent{ID: pi.ID, ClientSecret: pi.ClientSecret, Status: string(pi.Status),
		Amount:   Money{Amount: pi.Amount, Currency: strings.ToUpper(string(pi.Currency))},
		Metadata: pi.Metadata, At: at}
	if e := pi.LastPaymentError; e != nil && pi.Status == stripe.PaymentIntentStatusRequiresPaymentMethod {
		in.FailureCode = failureCode(e)
		in.AttemptRef = e.ChargeID
		if in.AttemptRef == "" && pi.LatestCharge != nil {
			in.AttemptRef = pi.LatestCharge.ID
		}
	}
	return in
}

// failureCode names a declined attempt as API.md does: the decline code when
// the card issuer gave a specific one (insufficient_funds), else the error
// code (card_declined).
func failureCode(e *stripe.Error) string {
	if e.DeclineCode != "" && e.DeclineCode != "generic_decline" {
		return string(e.DeclineCode)
	}
	if e.Code != "" {
		return string(e.Code)
	}
	return "card_declined"
}

// webhookTolerance is how old a signed webhook may be: Stripe's default.
const webhookTolerance = webhook.DefaultTolerance

// verifyWebhook checks a Stripe-Signature header with secret, as both
// providers do: the library's ConstructEvent with its 300 s tolerance. No
// secret verifies nothing. Events of another API version are taken: the
// fields this service reads (id, type, created, and the PaymentIntent's id,
// status, metadata and last_payment_error) are the same in every version.
func verifyWebhook(payload []byte, signature, secret string) (stripe.Event, error) {
	if secret == "" || signature == "" {
		return stripe.Event{}, ErrBadSignature
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, secret,
		webhook.ConstructEventOptions{Tolerance: webhookTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return stripe.Event{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return ev, nil
}

// unix is t in whole seconds, as the provider stamps its states.
func unix(t time.Time) int64 { return t.Unix() }
