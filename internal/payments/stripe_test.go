package payments

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/testkit"
)

// StripeMockURLEnv names the variable that points the tests at stripe-mock
// (`go tool stripe-mock -http-port 12111`; .ci/run starts it), e.g.
// http://127.0.0.1:12111.
const StripeMockURLEnv = "EMPORIUM_TEST_STRIPE_MOCK_URL"

// stripeKey is the tests' Stripe secret key.
const stripeKey = "sk_test_EmporiumKeyDoNotLog4242"

// stripeCall is a request stripe-go sent, as the recorder saw it.
type stripeCall struct {
	method, path, key string
	form              url.Values
}

// recorder is a proxy in front of stripe-mock that records every request,
// and can lose the answers to some: the request reaches Stripe, the answer
// never reaches us.
type recorder struct {
	mu    sync.Mutex
	calls []stripeCall
	lose  map[string]int // "METHOD /path" → answers still to lose
}

func (rec *recorder) loseNext(route string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.lose[route]++
}

// sent returns the recorded calls to a route.
func (rec *recorder) sent(route string) []stripeCall {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []stripeCall
	for _, c := range rec.calls {
		if c.method+" "+c.path == route {
			out = append(out, c)
		}
	}
	return out
}

// stripeMock starts a recorder in front of stripe-mock, or skips the test
// when no stripe-mock is configured.
func stripeMock(t *testing.T) (*recorder, string) {
	t.Helper()
	target := testkit.Need(t, StripeMockURLEnv, "stripe-mock (go tool stripe-mock -http-port 12111)")
	rec := &recorder{lose: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		route := r.Method + " " + r.URL.Path
		rec.mu.Lock()
		rec.calls = append(rec.calls, stripeCall{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key"), form})
		lose := rec.lose[route] > 0
		if lose {
			rec.lose[route]--
		}
		rec.mu.Unlock()
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header = r.Header.Clone()
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		if lose {
			w.WriteHeader(http.StatusBadGateway) // Stripe did it; we never hear
			return
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		io.Copy(w, res.Body)
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

// TestStripe: create, confirm, cancel and refund go through stripe-go to
// Stripe's API (stripe-mock checks each request against Stripe's OpenAPI
// document) with an Idempotency-Key derived from our ids on every mutating
// call; a create whose answer was lost is sent again with the same key.
func TestStripe(t *testing.T) {
	rec, base := stripeMock(t)
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, func(c *Config) { c.StripeSecretKey, c.StripeAPIBase = stripeKey, base })
		rec.mu.Lock()
		rec.calls = nil
		rec.mu.Unlock()

		rec.loseNext("POST /v1/payment_intents")
		body := map[string]any{"order_id": "order-stripe-1", "customer_id": "customer-1",
			"amount": map[string]any{"amount": 1999, "currency": "USD"}}
		expect(t, e.call("POST", "/internal/payments", body), http.StatusServiceUnavailable, "unavailable")
		r := e.call("POST", "/internal/payments", body)
		expect(t, r, http.StatusOK, "")
		p := decode(t, r)
		if p.Provider != "stripe" || p.Status != RequiresPaymentMethod {
			t.Errorf("created %+v", p)
		}
		creates := rec.sent("POST /v1/payment_intents")
		want := "emporium-payment-" + p.ID + "-create"
		if len(creates) != 2 || creates[0].key != want || creates[1].key != want {
			t.Fatalf("create calls %+v, want two with the key %s", creates, want)
		}
		f := creates[0].form
		if f.Get("amount") != "1999" || f.Get("currency") != "usd" || f.Get("capture_method") != "automatic" ||
			f.Get("metadata[order_id]") != "order-stripe-1" || f.Get("metadata[payment_id]") != p.ID {
			t.Errorf("create form %v", f)
		}
		intent := e.payment(p.ID).IntentID
		if !strings.HasPrefix(intent, "pi_") {
			t.Fatalf("intent id %q", intent)
		}
		r = e.do("GET", "/api/v1/payments/"+p.ID, e.customer(), nil)
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.ClientSecret == nil || !strings.Contains(*v.ClientSecret, "_secret_") {
			t.Errorf("the owner sees client_secret %s", str(v.ClientSecret))
		}

		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusOK, "")
		confirms := rec.sent("POST /v1/payment_intents/" + intent + "/confirm")
		if len(confirms) != 1 || confirms[0].key != confirmKey(p.ID, 1) ||
			confirms[0].form.Get("payment_method") != "pm_card_visa" {
			t.Errorf("confirm calls %+v", confirms)
		}

		r = e.call("POST", "/internal/payments/"+p.ID+"/cancel", nil)
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.Status != Canceled {
			t.Errorf("cancel answered %s", v.Status)
		}
		cancels := rec.sent("POST /v1/payment_intents/" + intent + "/cancel")
		if len(cancels) != 1 || !strings.HasPrefix(cancels[0].key, cancelKey(p.ID)) {
			t.Errorf("cancel calls %+v", cancels)
		}

		// A second payment succeeds (Stripe's webhook says so: stripe-mock
		// keeps no state) and is refunded.
		body["order_id"] = "order-stripe-2"
		r = e.call("POST", "/internal/payments", body)
		expect(t, r, http.StatusCreated, "")
		paid := decode(t, r)
		ev := stripeEvent(t, "evt_stripe_paid", "payment_intent.succeeded", time.Now(),
			map[string]any{"id": e.payment(paid.ID).IntentID, "status": "succeeded"})
		expect(t, e.post(ev, signed(ev, webhookSecret, time.Now())), http.StatusOK, "")
		r = e.call("POST", "/internal/payments/"+paid.ID+"/refund", map[string]any{"amount": 500, "reason": "damaged"})
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.Refunded.Amount != 500 || v.Status != Succeeded {
			t.Errorf("after the refund: %+v", v)
		}
		refunds := rec.sent("POST /v1/refunds")
		if len(refunds) != 1 || !strings.HasPrefix(refunds[0].key, "emporium-refund-") ||
			refunds[0].form.Get("amount") != "500" ||
			refunds[0].form.Get("payment_intent") != e.payment(paid.ID).IntentID {
			t.Errorf("refund calls %+v", refunds)
		}
		rec.mu.Lock()
		if len(rec.calls) != 6 {
			t.Errorf("%d calls to Stripe, want 6 (two creates, confirm, cancel, create, refund): %+v",
				len(rec.calls), rec.calls)
		}
		rec.mu.Unlock()
		if strings.Contains(e.logs.String(), stripeKey) {
			t.Error("the secret key is in the logs")
		}
	})
}
