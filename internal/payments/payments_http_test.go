package payments

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"emporium/internal/event"
)

// TestCreate: the internal create is idempotent by order id — 201, then 200
// with the same payment — and a repeat with another amount or customer is
// 409 payment_mismatch; the amount must be positive and in the store's
// currency; the route needs the service credential.
func TestCreate(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		body := map[string]any{"order_id": "order-1", "customer_id": "customer-1",
			"amount": map[string]any{"amount": 2500, "currency": "USD"}}
		r := e.call("POST", "/internal/payments", body)
		expect(t, r, http.StatusCreated, "")
		first := decode(t, r)
		if first.Status != RequiresPaymentMethod || first.Provider != "sandbox" || first.Amount.Amount != 2500 ||
			first.CustomerID != "customer-1" || first.Refunded == nil || first.Refunded.Amount != 0 ||
			first.ClientSecret == nil || !strings.HasPrefix(*first.ClientSecret, "pi_") ||
			first.FailureCode != nil {
			t.Errorf("created %+v", first)
		}
		r = e.call("POST", "/internal/payments", body)
		expect(t, r, http.StatusOK, "")
		if again := decode(t, r); again.ID != first.ID || again.ClientSecret == nil ||
			*again.ClientSecret != *first.ClientSecret {
			t.Errorf("repeat answered %+v, want payment %s with its client secret", again, first.ID)
		}
		// Other internal reads never carry it.
		if v := decode(t, e.call("GET", "/internal/payments/"+first.ID, nil)); v.ClientSecret != nil {
			t.Errorf("GET /internal/payments/{id} answered client_secret")
		}
		body["amount"] = map[string]any{"amount": 2600, "currency": "USD"}
		expect(t, e.call("POST", "/internal/payments", body), http.StatusConflict, "payment_mismatch")
		body["amount"] = map[string]any{"amount": 2500, "currency": "USD"}
		body["customer_id"] = "customer-2"
		expect(t, e.call("POST", "/internal/payments", body), http.StatusConflict, "payment_mismatch")
		if n := e.count("SELECT COUNT(*) FROM sandbox_intents"); n != 1 {
			t.Errorf("%d PaymentIntents at the provider, want 1", n)
		}

		for _, tc := range []struct {
			amount any
			field  string
		}{
			{map[string]any{"amount": 0, "currency": "USD"}, "amount.amount"},
			{map[string]any{"amount": 100, "currency": "EUR"}, "amount.currency"},
			{map[string]any{"amount": 100, "currency": "usd"}, "amount.currency"},
		} {
			r := e.call("POST", "/internal/payments", map[string]any{"order_id": "order-2",
				"customer_id": "customer-1", "amount": tc.amount})
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			if _, fields := r.Problem(t); !slices.Equal(fields, []string{tc.field}) {
				t.Errorf("amount %v: fields %v, want %s", tc.amount, fields, tc.field)
			}
		}
		r = e.client.Do("POST", e.internal+"/internal/payments", body)
		expect(t, r, http.StatusUnauthorized, "unauthenticated")
		expect(t, e.call("GET", "/internal/payments/nope", nil), http.StatusNotFound, "not_found")
	})
}

// TestGetPayment: the owner reads the payment with its client_secret, an
// admin without it, another customer gets 404 as for an unknown id, and no
// token is 401.
func TestGetPayment(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(1000)
		path := "/api/v1/payments/" + p.ID

		r := e.do("GET", path, e.customer(), nil)
		expect(t, r, http.StatusOK, "")
		own := decode(t, r)
		if own.ClientSecret == nil || !strings.HasPrefix(*own.ClientSecret, "pi_") || own.CustomerID != "" ||
			own.Refunded != nil {
			t.Errorf("owner sees %+v, want the client secret and the public shape", own)
		}
		r = e.do("GET", path, e.admin(), nil)
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.ClientSecret != nil || v.ID != p.ID {
			t.Errorf("admin sees client_secret %s", str(v.ClientSecret))
		}
		expect(t, e.do("GET", path, e.stranger(), nil), http.StatusNotFound, "not_found")
		expect(t, e.do("GET", "/api/v1/payments/unknown", e.customer(), nil), http.StatusNotFound, "not_found")
		r = e.do("GET", path, "", nil)
		expect(t, r, http.StatusUnauthorized, "unauthenticated")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		r = e.call("GET", "/internal/payments/"+p.ID, nil)
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.ClientSecret != nil || v.CustomerID != "customer-1" {
			t.Errorf("internal read %+v, want customer_id and no client secret", v)
		}
	})
}

// TestConfirm walks API.md's confirm rules with the sandbox's test methods:
// declines answer 200 requires_payment_method with the failure code, and
// each is announced; the customer confirms again until a method succeeds,
// announced once; then confirming is 409 invalid_transition.
func TestConfirm(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(4200)

		for _, tc := range []struct{ method, code string }{
			{"pm_card_chargeDeclined", "card_declined"},
			{"pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"},
		} {
			r := e.confirm(p.ID, tc.method)
			expect(t, r, http.StatusOK, "")
			v := decode(t, r)
			if v.Status != RequiresPaymentMethod || v.FailureCode == nil || *v.FailureCode != tc.code {
				t.Errorf("%s: status %s failure_code %s, want requires_payment_method %s", tc.method, v.Status,
					str(v.FailureCode), tc.code)
			}
		}
		r := e.confirm(p.ID, "pm_card_visa")
		expect(t, r, http.StatusOK, "")
		if v := decode(t, r); v.Status != Succeeded || v.FailureCode != nil || v.ClientSecret == nil {
			t.Errorf("visa: %+v, want succeeded without failure_code, with the client secret", v)
		}
		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusConflict, "invalid_transition")
		expect(t, e.confirm(p.ID, "pm_card_chargeDeclined"), http.StatusConflict, "invalid_transition")

		failed := e.events(event.PaymentFailed, p.ID)
		if len(failed) != 2 || failed[0].FailureCode != "card_declined" || failed[1].FailureCode != "insufficient_funds" {
			t.Errorf("failed events %+v, want card_declined then insufficient_funds", failed)
		}
		succeeded := e.events(event.PaymentSucceeded, p.ID)
		if len(succeeded) != 1 {
			t.Fatalf("%d succeeded events, want 1", len(succeeded))
		}
		if got := succeeded[0]; got.OrderID != p.OrderID || got.CustomerID != "customer-1" ||
			got.Status != Succeeded || got.Amount != (Money{Amount: 4200, Currency: "USD"}) || got.Provider != "sandbox" {
			t.Errorf("succeeded event %+v", got)
		}
		if n := e.count("SELECT COUNT(*) FROM sandbox_requests WHERE request LIKE 'confirm %'"); n != 3 {
			t.Errorf("%d confirm calls at the provider, want 3", n)
		}
	})
}

// TestConfirmRefused: an unknown payment method is 422 naming
// payment_method and changes nothing; another customer's payment is 404,
// for an admin too; a canceled payment is 409; the body is decoded strictly.
func TestConfirmRefused(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(1500)
		for _, method := range []string{"pm_card_unknown", "", "4242424242424242"} {
			r := e.confirm(p.ID, method)
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			if _, fields := r.Problem(t); !slices.Equal(fields, []string{"payment_method"}) {
				t.Errorf("%q: fields %v", method, fields)
			}
		}
		if got := e.payment(p.ID); got.Status != RequiresPaymentMethod || got.PendingMethod != "" {
			t.Errorf("after unknown methods: %s, pending %q", got.Status, got.PendingMethod)
		}
		path := "/api/v1/payments/" + p.ID + "/confirm"
		body := map[string]string{"payment_method": "pm_card_visa"}
		expect(t, e.do("POST", path, e.stranger(), body), http.StatusNotFound, "not_found")
		expect(t, e.do("POST", path, e.admin(), body), http.StatusNotFound, "not_found")
		expect(t, e.do("POST", path, "", body), http.StatusUnauthorized, "unauthenticated")
		expect(t, e.do("POST", "/api/v1/payments/nope/confirm", e.customer(), body), http.StatusNotFound, "not_found")
		expect(t, e.do("POST", path, e.customer(), `{"payment_method":`), http.StatusBadRequest, "malformed_json")
		r := e.do("POST", path, e.customer(), `{"payment_method":"pm_card_visa","card":"4242"}`)
		expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
		r = e.do("POST", path, e.customer(), `{"payment_method":"pm_card_visa"}`, "Content-Type", "text/plain")
		expect(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
		huge := `{"payment_method":"` + strings.Repeat("x", 1<<20) + `"}`
		expect(t, e.do("POST", path, e.customer(), huge), http.StatusRequestEntityTooLarge, "body_too_large")
		expect(t, e.post([]byte(huge), "t=1,v1=00"), http.StatusRequestEntityTooLarge, "body_too_large")

		expect(t, e.call("POST", "/internal/payments/"+p.ID+"/cancel", nil), http.StatusOK, "")
		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusConflict, "invalid_transition")
	})
}

// TestCancel: cancel answers canceled, again 200 for a canceled payment,
// announced once; a succeeded payment is 409 invalid_transition.
func TestCancel(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(900)
		e.confirm(p.ID, "pm_card_chargeDeclined")
		for range 2 {
			r := e.call("POST", "/internal/payments/"+p.ID+"/cancel", nil)
			expect(t, r, http.StatusOK, "")
			if v := decode(t, r); v.Status != Canceled {
				t.Errorf("cancel: %s", v.Status)
			}
		}
		if got := e.events(event.PaymentCanceled, p.ID); len(got) != 1 || got[0].Status != Canceled {
			t.Errorf("canceled events %+v, want one", got)
		}
		paid := e.create(900)
		expect(t, e.confirm(paid.ID, "pm_card_visa"), http.StatusOK, "")
		expect(t, e.call("POST", "/internal/payments/"+paid.ID+"/cancel", nil), http.StatusConflict, "invalid_transition")
		expect(t, e.call("POST", "/internal/payments/nope/cancel", nil), http.StatusNotFound, "not_found")
	})
}

// TestRefund: only a succeeded payment is refunded; a partial refund, its
// repeat (refunded once), one past what is left (422), and the rest (the
// payment is refunded), each announced once with the running total.
func TestRefund(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(1000)
		refund := func(body any) response {
			t.Helper()
			return e.call("POST", "/internal/payments/"+p.ID+"/refund", body)
		}
		expect(t, refund(map[string]any{"reason": "early"}), http.StatusConflict, "invalid_transition")
		expect(t, e.confirm(p.ID, "pm_card_visa"), http.StatusOK, "")

		partial := map[string]any{"amount": map[string]any{"amount": 300, "currency": "USD"}, "reason": "damaged"}
		for range 2 {
			r := refund(partial)
			expect(t, r, http.StatusOK, "")
			if v := decode(t, r); v.Status != Succeeded || v.Refunded == nil || v.Refunded.Amount != 300 {
				t.Errorf("after the partial refund: %s, refunded %+v", v.Status, v.Refunded)
			}
		}
		r := refund(map[string]any{"amount": 701, "reason": "too much"})
		expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
		if _, fields := r.Problem(t); !slices.Equal(fields, []string{"amount"}) {
			t.Errorf("fields %v, want amount", fields)
		}
		expect(t, refund(map[string]any{"amount": 100, "reason": ""}), http.StatusUnprocessableEntity, "validation_failed")
		expect(t, refund(map[string]any{"amount": map[string]any{"amount": 100, "currency": "EUR"}, "reason": "x"}),
			http.StatusUnprocessableEntity, "validation_failed")
		for range 2 {
			r = refund(map[string]any{"reason": "order cancelled"})
			expect(t, r, http.StatusOK, "")
			if v := decode(t, r); v.Status != Refunded || v.Refunded.Amount != 1000 {
				t.Errorf("after the full refund: %s, refunded %+v", v.Status, v.Refunded)
			}
		}
		expect(t, refund(map[string]any{"amount": 1, "reason": "more"}), http.StatusUnprocessableEntity, "validation_failed")

		got := e.events(event.PaymentRefunded, p.ID)
		if len(got) != 2 {
			t.Fatalf("%d refunded events, want 2: %+v", len(got), got)
		}
		if got[0].Refund.Amount != 300 || got[0].Refunded.Amount != 300 || got[0].Status != Succeeded ||
			got[1].Refund.Amount != 700 || got[1].Refunded.Amount != 1000 || got[1].Status != Refunded {
			t.Errorf("refunded events %+v %+v / %+v %+v", got[0].Refund, got[0].Refunded, got[1].Refund, got[1].Refunded)
		}
		pi, err := sandboxIntentByID(t.Context(), e.db, e.payment(p.ID).IntentID)
		if err != nil {
			t.Fatal(err)
		}
		if pi.AmountReceived != 1000 || pi.AmountRefunded != 1000 {
			t.Errorf("the provider received %d and refunded %d, want 1000 and 1000", pi.AmountReceived,
				pi.AmountRefunded)
		}
	})
}

// TestLedger: every provider call (requested, then answered) and every
// event is in the ledger, which refuses updates and deletes.
func TestLedger(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.create(700)
		e.confirm(p.ID, "pm_card_chargeDeclined")
		e.confirm(p.ID, "pm_card_visa")
		rows, err := e.db.QueryContext(t.Context(), `SELECT source, action, outcome FROM payment_ledger
			WHERE order_id = $1 ORDER BY id`, p.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var source, action, outcome string
			if err := rows.Scan(&source, &action, &outcome); err != nil {
				t.Fatal(err)
			}
			got = append(got, source+" "+action+" "+outcome)
		}
		rows.Close()
		want := []string{
			"call create requested", "call create requires_payment_method",
			"call confirm requested", "webhook payment_intent.payment_failed requires_payment_method",
			"call confirm requires_payment_method",
			"call confirm requested", "webhook payment_intent.succeeded succeeded", "call confirm succeeded",
		}
		if !slices.Equal(got, want) {
			t.Errorf("ledger:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if _, err := e.db.ExecContext(t.Context(), "UPDATE payment_ledger SET outcome = 'x'"); err == nil {
			t.Error("the ledger took an UPDATE")
		}
		if _, err := e.db.ExecContext(t.Context(), "DELETE FROM payment_ledger"); err == nil {
			t.Error("the ledger took a DELETE")
		}
	})
}
