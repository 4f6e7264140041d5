package payments

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"emporium/internal/event"
)

// stripeEvent is a Stripe event about a PaymentIntent, as Stripe sends it.
func stripeEvent(t testing.TB, id, typ string, created time.Time, pi map[string]any) []byte {
	t.Helper()
	pi["object"] = "payment_intent"
	raw, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion,
		"created": created.Unix(), "type": typ, "livemode": false, "data": map[string]any{"object": pi}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signed is the Stripe-Signature header for payload, made with secret at ts.
func signed(payload []byte, secret string, ts time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret,
		Timestamp: ts}).Header
}

// post sends a webhook request; signature "" sends no header.
func (e *env) post(payload []byte, signature string) response {
	e.t.Helper()
	var headers []string
	if signature != "" {
		headers = append(headers, "Stripe-Signature", signature)
	}
	return e.client.Do("POST", e.url+"/webhooks/stripe", string(payload), headers...)
}

// TestWebhookSignature: an event signed with the secret passes; a tampered
// body, another secret, a stale timestamp, a missing or malformed header
// are 400 invalid_signature and change nothing; without a configured
// secret every request is refused.
func TestWebhookSignature(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(1200)
		now := time.Now()
		body := stripeEvent(t, "evt_sig_1", "payment_intent.succeeded", now,
			map[string]any{"id": "pi_unknown", "status": "succeeded", "metadata": map[string]string{"order_id": p.OrderID}})
		tampered := []byte(strings.Replace(string(body), "succeeded", "canceled", 1))
		for name, r := range map[string]response{
			"tampered body":    e.post(tampered, signed(body, webhookSecret, now)),
			"wrong secret":     e.post(body, signed(body, "whsec_other", now)),
			"stale timestamp":  e.post(body, signed(body, webhookSecret, now.Add(-301*time.Second))),
			"missing header":   e.post(body, ""),
			"malformed header": e.post(body, "v1=abc"),
		} {
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400: %s", name, r.Status, r.Body)
				continue
			}
			if code, _ := r.Problem(t); code != "invalid_signature" {
				t.Errorf("%s: code %s", name, code)
			}
		}
		if got := e.payment(p.ID).Status; got != RequiresPaymentMethod {
			t.Fatalf("refused events moved the payment to %s", got)
		}
		r := e.post(body, signed(body, webhookSecret, now.Add(-200*time.Second)))
		expect(t, r, http.StatusOK, "")
		if got := e.payment(p.ID).Status; got != Succeeded {
			t.Errorf("after a verified payment_intent.succeeded: %s", got)
		}

		unset := start(t, dbURL, func(c *Config) { c.StripeWebhookSecret = "" })
		r = unset.post(body, signed(body, webhookSecret, now))
		expect(t, r, http.StatusBadRequest, "invalid_signature")
		r = unset.post(body, signed(body, "", now))
		expect(t, r, http.StatusBadRequest, "invalid_signature")
	})
}

// TestWebhookOnce: the same event twice is processed once — one ledger row,
// one announcement — and both deliveries answer 200.
func TestWebhookOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(800)
		intent := e.payment(p.ID).IntentID
		body := stripeEvent(t, "evt_once", "payment_intent.payment_failed", time.Now(), map[string]any{
			"id": intent, "status": "requires_payment_method",
			"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined",
				"decline_code": "insufficient_funds", "charge": "ch_once"}})
		for range 2 {
			expect(t, e.post(body, signed(body, webhookSecret, time.Now())), http.StatusOK, "")
		}
		if got := e.events(event.PaymentFailed, p.ID); len(got) != 1 || got[0].FailureCode != "insufficient_funds" {
			t.Errorf("failed events %+v, want one with insufficient_funds", got)
		}
		if n := e.count("SELECT COUNT(*) FROM payment_ledger WHERE object_id = 'evt_once'"); n != 1 {
			t.Errorf("%d ledger rows for the event, want 1", n)
		}
		v := e.payment(p.ID)
		if v.Status != RequiresPaymentMethod || v.FailureCode != "insufficient_funds" {
			t.Errorf("payment %s %s", v.Status, v.FailureCode)
		}
		// An event about no known payment is recorded and answered 200.
		other := stripeEvent(t, "evt_other", "payment_intent.succeeded", time.Now(),
			map[string]any{"id": "pi_elsewhere", "status": "succeeded"})
		expect(t, e.post(other, signed(other, webhookSecret, time.Now())), http.StatusOK, "")
		if n := e.count("SELECT COUNT(*) FROM payment_ledger WHERE object_id = 'evt_other' AND outcome = 'unknown payment'"); n != 1 {
			t.Errorf("%d ledger rows for the unknown payment's event, want 1", n)
		}
	})
}

// TestWebhookOrder: events that come out of order end in the right state —
// a success after a failure is succeeded, a failure after a success changes
// nothing, an older processing-era event does not move a newer state back.
func TestWebhookOrder(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		base := time.Now().Add(10 * time.Second)
		send := func(p view, id, typ string, created time.Time, code string) {
			t.Helper()
			pi := map[string]any{"id": e.payment(p.ID).IntentID}
			if code != "" {
				pi["last_payment_error"] = map[string]any{"code": code, "charge": "ch_" + id}
			}
			body := stripeEvent(t, id, typ, created, pi)
			expect(t, e.post(body, signed(body, webhookSecret, time.Now())), http.StatusOK, "")
		}
		type step struct {
			typ  string
			at   time.Duration // after base
			code string
		}
		tests := []struct {
			name   string
			events []step
			want   string
		}{
			{"failed then succeeded (older)", []step{{"payment_intent.payment_failed", 5 * time.Second, "card_declined"}, {"payment_intent.succeeded", 0, ""}},
				Succeeded},
			{"succeeded then failed", []step{{"payment_intent.succeeded", 0, ""}, {"payment_intent.payment_failed", 5 * time.Second, "card_declined"}},
				Succeeded},
			{"processing then an older failure", []step{{"payment_intent.processing", 10 * time.Second, ""}, {"payment_intent.payment_failed", 5 * time.Second, "card_declined"}},
				Processing},
			{"canceled then an older processing", []step{{"payment_intent.canceled", 10 * time.Second, ""}, {"payment_intent.processing", 5 * time.Second, ""}},
				Canceled},
		}
		for i, tc := range tests {
			p := e.create(int64(100 + i))
			for j, ev := range tc.events {
				send(p, p.ID+"-"+string(rune('a'+j)), ev.typ, base.Add(ev.at), ev.code)
			}
			if got := e.payment(p.ID).Status; got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
			if n := len(e.events(event.PaymentSucceeded, p.ID)); tc.want == Succeeded && n != 1 {
				t.Errorf("%s: %d succeeded events, want 1", tc.name, n)
			}
		}
	})
}
