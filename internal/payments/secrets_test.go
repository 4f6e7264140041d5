package payments

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"

	"emporium/internal/platform/config"
)

// TestSecretsNotLogged: the API key, the webhook secret and the client
// secrets the service hands out appear nowhere in its logs — not in the
// logged configuration, not in the errors of failed calls to Stripe (whose
// own error text carries the PaymentIntent, client secret included), not
// in the access lines.
func TestSecretsNotLogged(t *testing.T) {
	cfg := testConfig()
	cfg.StripeSecretKey = stripeKey
	for _, a := range config.Attrs(&cfg) {
		if v := a.Value.String(); strings.Contains(v, stripeKey) || strings.Contains(v, webhookSecret) {
			t.Errorf("the logged configuration shows %s=%s", a.Key, v)
		}
	}

	sp := newStripe(stripeKey, webhookSecret, "", time.Now)
	se := &stripe.Error{Type: stripe.ErrorTypeInvalidRequest, HTTPStatusCode: 400,
		Msg:           "Invalid API Key provided: " + stripeKey,
		PaymentIntent: &stripe.PaymentIntent{ID: "pi_1", ClientSecret: "pi_1_secret_hidden"}}
	if text := sp.fail("confirm", se).Error(); strings.Contains(text, stripeKey) ||
		strings.Contains(text, "pi_1_secret_hidden") {
		t.Errorf("a Stripe error reads %q", text)
	}
	if text := sp.fail("confirm", fmt.Errorf("post: %w", errors.New("dial "+stripeKey))).Error(); strings.Contains(text, stripeKey) {
		t.Errorf("a network error reads %q", text)
	}

	check := func(t *testing.T, e *env, secrets ...string) {
		t.Helper()
		logs := e.logs.String()
		if !strings.Contains(logs, `"msg":"request"`) {
			t.Fatal("no access lines captured")
		}
		for _, s := range append(secrets, webhookSecret, stripeKey) {
			if s != "" && strings.Contains(logs, s) {
				t.Errorf("the logs hold the secret %q", s)
			}
		}
	}
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		var secrets []string
		for _, method := range []string{"pm_card_chargeDeclined", "pm_card_visa"} {
			p := e.create(1000)
			r := e.confirm(p.ID, method)
			expect(t, r, http.StatusOK, "")
			secrets = append(secrets, *decode(t, r).ClientSecret)
		}
		body := stripeEvent(t, "evt_log", "payment_intent.succeeded", time.Now(), map[string]any{"id": "pi_x"})
		e.post(body, signed(body, "whsec_wrong", time.Now()))
		e.post(body, signed(body, webhookSecret, time.Now()))
		check(t, e, secrets...)

		if os.Getenv(StripeMockURLEnv) != "" { // and through Stripe's errors
			rec, base := stripeMock(t)
			s := start(t, dbURL, func(c *Config) { c.StripeSecretKey, c.StripeAPIBase = stripeKey, base })
			rec.loseNext("POST /v1/payment_intents")
			body := map[string]any{"order_id": "order-log", "customer_id": "customer-1",
				"amount": map[string]any{"amount": 1000, "currency": "USD"}}
			expect(t, s.call("POST", "/internal/payments", body), http.StatusServiceUnavailable, "unavailable")
			r := s.call("POST", "/internal/payments", body)
			expect(t, r, http.StatusOK, "")
			r = s.do("GET", "/api/v1/payments/"+decode(t, r).ID, s.customer(), nil)
			check(t, s, *decode(t, r).ClientSecret)
		}
	})
}
