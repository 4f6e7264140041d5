package payments

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"emporium/internal/platform/sqldb"
)

// The sandbox's test payment methods: Stripe's, with the outcome Stripe
// gives them. Any other payment method is ErrUnknownMethod, as Stripe's
// "No such PaymentMethod".
var sandboxMethods = map[string]sandboxError{
	"pm_card_visa":           {},
	"pm_card_chargeDeclined": {Code: "card_declined", DeclineCode: "generic_decline", Message: "Your card was declined."},
	"pm_card_chargeDeclinedInsufficientFunds": {Code: "card_declined", DeclineCode: "insufficient_funds",
		Message: "Your card has insufficient funds."},
}

// sandbox is the provider that needs no account: it follows Stripe's
// PaymentIntent model in-process, keeping its PaymentIntents and its
// idempotent answers in tables of its own (sandbox_*), so it survives a
// restart and serves every replica alike. Each change of a PaymentIntent
// is sent, after the sandbox committed it, as the Stripe event that Stripe
// would send (payment_intent.succeeded, .payment_failed, .processing,
// .canceled) to deliver — the service's webhook handler after signature
// verification — so the sandbox takes the same path to a payment as
// Stripe's webhooks.
type sandbox struct {
	db            *sqldb.DB
	webhookSecret string
	now           func() time.Time
	log           *slog.Logger
	// deliver is the service's event handler, set when the service is built.
	deliver func(ctx context.Context, ev stripe.Event) error
	// Tests: settleLater leaves a confirmed PaymentIntent processing until
	// settleProcessing; drop, when set, loses the events it returns true
	// for (a webhook that never came).
	settleLater bool
	drop        func(stripe.Event) bool
	// faults are injected faults (PAYMENTS_SANDBOX_FAULTS), for
	// fault-injection tests.
	faults SandboxFaults
}

// sandboxIntent is a PaymentIntent as the sandbox keeps it.
type sandboxIntent struct {
	ID             string            `json:"id"`
	ClientSecret   string            `json:"client_secret"`
	Status         string            `json:"status"`
	Amount         int64             `json:"amount"`
	AmountReceived int64             `json:"amount_received"`
	AmountRefunded int64             `json:"amount_refunded"`
	Currency       string            `json:"currency"`
	Metadata       map[string]string `json:"metadata"`
	PaymentMethod  string            `json:"payment_method,omitempty"`
	LatestCharge   string            `json:"latest_charge,omitempty"`
	LastError      *sandboxError     `json:"last_payment_error,omitempty"`
	Created        int64             `json:"created"`
}

// sandboxError is a PaymentIntent's last_payment_error.
type sandboxError struct {
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code"`
	Message     string `json:"message"`
	Charge      string `json:"charge,omitempty"`
}

func (s *sandbox) Name() string { return "sandbox" }

func (s *sandbox) Create(ctx context.Context, in CreateIntent) (Intent, error) {
	request := fmt.Sprintf("create %d %s %s", in.Amount.Amount, in.Amount.Currency, in.OrderID)
	return s.call(ctx, in.Key, request, "", func(*sandboxIntent) (*sandboxIntent, []string, error) {
		id := "pi_" + randomID(24)
		return &sandboxIntent{ID: id, ClientSecret: id + "_secret_" + randomID(24),
			Status: RequiresPaymentMethod, Amount: in.Amount.Amount,
			Currency: strings.ToLower(in.Amount.Currency), Created: unix(s.now()),
			Metadata: map[string]string{"order_id": in.OrderID, "payment_id": in.PaymentID,
				"customer_id": in.CustomerID}}, nil, nil
	})
}

func (s *sandbox) Confirm(ctx context.Context, intentID, method, key string) (Intent, error) {
	return s.call(ctx, key, "confirm "+intentID+" "+method, intentID,
		func(pi *sandboxIntent) (*sandboxIntent, []string, error) {
			decline, known := sandboxMethods[method]
			if !known {
				return nil, nil, fmt.Errorf("sandbox: no such PaymentMethod %q: %w", method, ErrUnknownMethod)
			}
			if pi.Status != RequiresPaymentMethod && pi.Status != RequiresAction {
				return nil, nil, fmt.Errorf("sandbox: confirm a %s PaymentIntent: %w", pi.Status, errProviderState)
			}
			pi.PaymentMethod = method
			if s.settleLater {
				pi.Status, pi.LastError = Processing, nil
				return pi, []string{"payment_intent.processing"}, nil
			}
			return pi, []string{settle(pi, decline)}, nil
		})
}

// settle decides a confirmed PaymentIntent: a charge that succeeds or is
// declined. It returns the event type Stripe sends for the outcome.
func settle(pi *sandboxIntent, decline sandboxError) string {
	pi.LatestCharge = "ch_" + randomID(24)
	if decline.Code == "" {
		pi.Status, pi.LastError, pi.AmountReceived = Succeeded, nil, pi.Amount
		return "payment_intent.succeeded"
	}
	decline.Charge = pi.LatestCharge
	pi.Status, pi.LastError, pi.PaymentMethod = RequiresPaymentMethod, &decline, ""
	return "payment_intent.payment_failed"
}

// settleProcessing decides every PaymentIntent left processing (settleLater)
// and sends their events.
func (s *sandbox) settleProcessing(ctx context.Context) error {
	ids, err := sandboxProcessing(ctx, s.db)
	if err != nil {
		return err
	}
	for _, id := range ids {
		_, err := s.call(ctx, "settle-"+id, "settle "+id, id,
			func(pi *sandboxIntent) (*sandboxIntent, []string, error) {
				if pi.Status != Processing {
					return pi, nil, nil
				}
				return pi, []string{settle(pi, sandboxMethods[pi.PaymentMethod])}, nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *sandbox) Cancel(ctx context.Context, intentID, key string) (Intent, error) {
	return s.call(ctx, key, "cancel "+intentID, intentID, func(pi *sandboxIntent) (*sandboxIntent, []string, error) {
		switch pi.Status {
		case RequiresPaymentMethod, RequiresAction, "requires_confirmation":
		default:
			return nil, nil, fmt.Errorf("sandbox: cancel a %s PaymentIntent: %w", pi.Status, errProviderState)
		}
		pi.Status = Canceled
		return pi, []string{"payment_intent.canceled"}, nil
	})
}

func (s *sandbox) Refund(ctx context.Context, in RefundIntent) (string, error) {
	request := fmt.Sprintf("refund %s %d", in.IntentID, in.Amount)
	_, err := s.call(ctx, in.Key, request, in.IntentID, func(pi *sandboxIntent) (*sandboxIntent, []string, error) {
		if pi.Status != Succeeded {
			return nil, nil, fmt.Errorf("sandbox: refund a %s PaymentIntent: %w", pi.Status, errProviderState)
		}
		if in.Amount < 1 || pi.AmountRefunded+in.Amount > pi.AmountReceived {
			return nil, nil, fmt.Errorf("sandbox: refund %d of %d received, %d refunded: %w",
				in.Amount, pi.AmountReceived, pi.AmountRefunded, errRefused)
		}
		pi.AmountRefunded += in.Amount
		return pi, nil, nil
	})
	if err != nil {
		return "", err
	}
	// The refund's id follows from the key, so a replay answers the same one.
	sum := sha256.Sum256([]byte(in.Key))
	return "re_" + hex.EncodeToString(sum[:12]), nil
}

func (s *sandbox) Retrieve(ctx context.Context, intentID string) (Intent, error) {
	pi, err := sandboxIntentByID(ctx, s.db, intentID)
	if err != nil {
		return Intent{}, err
	}
	return s.intent(pi)
}

func (s *sandbox) ParseWebhook(payload []byte, signature string) (stripe.Event, error) {
	return verifyWebhook(payload, signature, s.webhookSecret)
}

// call runs one mutating request idempotently: a key seen before replays the
// answer it got (a key reused for another request is refused, as Stripe
// does); otherwise change computes the PaymentIntent's new state (from the
// stored one when intentID is not empty), which is stored with the answer in
// one transaction, and then the events are sent.
func (s *sandbox) call(ctx context.Context, key, request, intentID string,
	change func(*sandboxIntent) (*sandboxIntent, []string, error)) (Intent, error) {
	if strikes(s.faults.Fail) {
		return Intent{}, fmt.Errorf("sandbox: injected failure: %w", ErrUnavailable)
	}
	var pi *sandboxIntent
	var events []string
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		events = nil
		// The PaymentIntent first: a concurrent call with the same key waits
		// here, then finds the answer stored.
		var cur *sandboxIntent
		var err error
		if intentID != "" {
			if cur, err = sandboxIntentForUpdate(ctx, tx, intentID); err != nil {
				return err
			}
		}
		var replay bool
		if pi, replay, err = sandboxReplay(ctx, tx, key, request); err != nil || replay {
			return err
		}
		if pi, events, err = change(cur); err != nil {
			return err
		}
		return saveSandboxCall(ctx, tx, key, request, pi, cur == nil, s.now())
	})
	if err != nil {
		return Intent{}, err
	}
	for _, typ := range events {
		s.send(ctx, typ, pi)
	}
	if strikes(s.faults.Timeout) {
		return Intent{}, fmt.Errorf("sandbox: injected timeout after the call was carried out: %w",
			ErrUnavailable)
	}
	return s.intent(pi)
}

// intent reads a PaymentIntent as the service reads Stripe's: through
// stripe-go's type.
func (s *sandbox) intent(pi *sandboxIntent) (Intent, error) {
	var out stripe.PaymentIntent
	if err := json.Unmarshal(pi.object(), &out); err != nil {
		return Intent{}, fmt.Errorf("sandbox: %w", err)
	}
	return intentOf(&out, unix(s.now())), nil
}

// send delivers a Stripe event of type typ about pi. A failed delivery is
// logged and dropped: the answer to the call carries the same outcome, and
// the reconciler asks about what stays unsettled.
func (s *sandbox) send(ctx context.Context, typ string, pi *sandboxIntent) {
	raw, err := json.Marshal(map[string]any{
		"id": "evt_" + randomID(24), "object": "event", "api_version": stripe.APIVersion,
		"created": unix(s.now()), "type": typ, "livemode": false, "pending_webhooks": 1,
		"data": map[string]json.RawMessage{"object": pi.object()},
	})
	var ev stripe.Event
	if err == nil {
		err = json.Unmarshal(raw, &ev)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "sandbox: cannot build an event", slog.String("error", err.Error()))
		return
	}
	if (s.drop != nil && s.drop(ev)) || strikes(s.faults.Drop) {
		return
	}
	if s.deliver == nil {
		return
	}
	if err := s.deliver(context.WithoutCancel(ctx), ev); err != nil {
		s.log.WarnContext(ctx, "sandbox: event not delivered; the reconciler will ask",
			slog.String("event_id", ev.ID), slog.String("type", typ), slog.String("error", err.Error()))
	}
}

// object renders pi as Stripe's PaymentIntent object.
func (pi *sandboxIntent) object() json.RawMessage {
	obj := map[string]any{
		"id": pi.ID, "object": "payment_intent", "amount": pi.Amount,
		"amount_received": pi.AmountReceived, "currency": pi.Currency, "status": pi.Status,
		"client_secret": pi.ClientSecret, "capture_method": "automatic", "confirmation_method": "automatic",
		"payment_method_types": []string{"card"}, "metadata": pi.Metadata, "created": pi.Created,
		"livemode": false, "last_payment_error": nil, "latest_charge": nil, "payment_method": nil,
	}
	if pi.LatestCharge != "" {
		obj["latest_charge"] = pi.LatestCharge
	}
	if pi.PaymentMethod != "" {
		obj["payment_method"] = pi.PaymentMethod
	}
	if e := pi.LastError; e != nil {
		obj["last_payment_error"] = map[string]any{"type": "card_error", "code": e.Code,
			"decline_code": e.DeclineCode, "message": e.Message, "charge": e.Charge}
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return raw
}

// errSandboxNoIntent is a PaymentIntent id the sandbox never made.
var errSandboxNoIntent = errors.New("sandbox: no such PaymentIntent")

// randomID returns n random letters and digits, as Stripe's ids have.
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
