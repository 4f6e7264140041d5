package payments

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// stripeProvider is Stripe, through stripe-go's client.
type stripeProvider struct {
	client        *stripe.Client
	key           string // only to scrub it from error texts
	webhookSecret string
	now           func() time.Time
}

// newStripe returns the Stripe provider for a secret key. apiBase replaces
// Stripe's API URL when not empty (stripe-mock in tests).
//
// stripe-go's own logging is silenced and its own retries are off: every
// retry is ours — the caller's repeated request, a resumed one, the
// reconciler — and always carries the key derived from our ids, and an
// error is logged by us, scrubbed (an error's text can hold the
// PaymentIntent and with it the client secret).
func newStripe(key, webhookSecret, apiBase string, now func() time.Time) *stripeProvider {
	cfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: 20 * time.Second},
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		MaxNetworkRetries: stripe.Int64(0),
		EnableTelemetry:   stripe.Bool(false),
	}
	if apiBase != "" {
		cfg.URL = stripe.String(apiBase)
	}
	client := stripe.NewClient(key, stripe.WithBackends(stripe.NewBackendsWithConfig(cfg)))
	return &stripeProvider{client: client, key: key, webhookSecret: webhookSecret, now: now}
}

func (s *stripeProvider) Name() string { return "stripe" }

func (s *stripeProvider) Create(ctx context.Context, in CreateIntent) (Intent, error) {
	params := &stripe.PaymentIntentCreateParams{
		Amount:             stripe.Int64(in.Amount.Amount),
		Currency:           stripe.String(strings.ToLower(in.Amount.Currency)),
		CaptureMethod:      stripe.String(string(stripe.PaymentIntentCaptureMethodAutomatic)),
		PaymentMethodTypes: []*string{stripe.String("card")},
		Metadata: map[string]string{"order_id": in.OrderID, "payment_id": in.PaymentID,
			"customer_id": in.CustomerID},
	}
	params.SetIdempotencyKey(in.Key)
	pi, err := s.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return Intent{}, s.fail("create", err)
	}
	return intentOf(pi, unix(s.now())), nil
}

func (s *stripeProvider) Confirm(ctx context.Context, intentID, method, key string) (Intent, error) {
	params := &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String(method)}
	params.SetIdempotencyKey(key)
	pi, err := s.client.V1PaymentIntents.Confirm(ctx, intentID, params)
	var se *stripe.Error
	if errors.As(err, &se) && se.Type == stripe.ErrorTypeCard {
		// A decline: Stripe answers 402 with the PaymentIntent, back to
		// requires_payment_method.
		if se.PaymentIntent != nil && se.PaymentIntent.ID != "" {
			return intentOf(se.PaymentIntent, unix(s.now())), nil
		}
		return Intent{ID: intentID, Status: RequiresPaymentMethod, FailureCode: failureCode(se),
			AttemptRef: cmp.Or(se.ChargeID, key), At: unix(s.now())}, nil
	}
	if err != nil {
		return Intent{}, s.fail("confirm", err)
	}
	return intentOf(pi, unix(s.now())), nil
}

func (s *stripeProvider) Cancel(ctx context.Context, intentID, key string) (Intent, error) {
	params := &stripe.PaymentIntentCancelParams{
		CancellationReason: stripe.String(string(stripe.PaymentIntentCancellationReasonAbandoned))}
	params.SetIdempotencyKey(key)
	pi, err := s.client.V1PaymentIntents.Cancel(ctx, intentID, params)
	if err != nil {
		return Intent{}, s.fail("cancel", err)
	}
	// Stripe answers a cancel it refuses with an error, and one it performs
	// with the canceled PaymentIntent: an answer is a cancellation (a mock
	// that keeps no state answers its fixture's status).
	in := intentOf(pi, unix(s.now()))
	in.Status = Canceled
	return in, nil
}

func (s *stripeProvider) Refund(ctx context.Context, in RefundIntent) (string, error) {
	params := &stripe.RefundCreateParams{
		PaymentIntent: stripe.String(in.IntentID),
		Amount:        stripe.Int64(in.Amount),
		Metadata: map[string]string{"order_id": in.OrderID, "payment_id": in.PaymentID,
			"refund_id": in.RefundID, "reason": in.Reason},
	}
	params.SetIdempotencyKey(in.Key)
	r, err := s.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return "", s.fail("refund", err)
	}
	// A card refund succeeds at once; one Stripe reports pending is counted
	// as made (its later failure would come as charge.refund.updated, which
	// this service records and leaves to an operator).
	if r.Status == stripe.RefundStatusFailed || r.Status == stripe.RefundStatusCanceled {
		return r.ID, fmt.Errorf("stripe refund %s: %s: %w", r.ID, r.Status, errRefused)
	}
	return r.ID, nil
}

func (s *stripeProvider) Retrieve(ctx context.Context, intentID string) (Intent, error) {
	pi, err := s.client.V1PaymentIntents.Retrieve(ctx, intentID, nil)
	if err != nil {
		return Intent{}, s.fail("retrieve", err)
	}
	return intentOf(pi, unix(s.now())), nil
}

func (s *stripeProvider) ParseWebhook(payload []byte, signature string) (stripe.Event, error) {
	return verifyWebhook(payload, signature, s.webhookSecret)
}

// fail turns a stripe-go error into one of the Provider's errors, with a text
// that holds neither the secret key nor the PaymentIntent (stripe.Error's own
// text is the whole error as JSON, client secret included).
func (s *stripeProvider) fail(op string, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("stripe %s: %s: %w", op, s.scrub(err.Error()), ErrUnavailable)
	}
	var kind error
	switch {
	case se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500 ||
		se.Type == stripe.ErrorTypeAPI || se.HTTPStatusCode == http.StatusUnauthorized ||
		se.Code == stripe.ErrorCodeLockTimeout:
		kind = ErrUnavailable
	case se.Code == stripe.ErrorCodePaymentIntentUnexpectedState:
		kind = errProviderState
	case strings.HasPrefix(se.Param, "payment_method"):
		kind = ErrUnknownMethod
	default:
		kind = errRefused
	}
	return fmt.Errorf("stripe %s: status %d, %s %s: %s (request %s): %w", op, se.HTTPStatusCode,
		se.Type, se.Code, s.scrub(se.Msg), se.RequestID, kind)
}

// scrub removes the secret key from an error's text.
func (s *stripeProvider) scrub(text string) string {
	if s.key == "" {
		return text
	}
	return strings.ReplaceAll(text, s.key, "*****")
}
