package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestOrderWait: an order carries an ETag; If-None-Match naming it is 304,
// and with "Prefer: wait=N" the request is answered when the order changes —
// here when its payment succeeds — instead of being polled.
func TestOrderWait(t *testing.T) {
	eachDB(t, shopOptions{}, func(t *testing.T, s *shop) {
		_, alice := s.customer()
		_, bob := s.customer()
		s.addToCart(alice, s.product(500, 5), 1)
		p := s.place(alice)
		path := "/api/v1/orders/" + p.Order.ID

		first := s.expect(s.do("GET", path, alice, nil), http.StatusOK, "")
		etag := first.Header.Get("ETag")
		if len(etag) < 3 || etag[0] != '"' {
			t.Fatalf("ETag %q, want a strong entity tag", etag)
		}
		same := s.expect(s.do("GET", path, alice, nil, "If-None-Match", etag), http.StatusNotModified, "")
		if len(same.Body) != 0 || same.Header.Get("ETag") != etag {
			t.Errorf("304 with body %q and ETag %q", same.Body, same.Header.Get("ETag"))
		}
		s.expect(s.do("GET", path, alice, nil, "If-None-Match", `"other"`), http.StatusOK, "")
		waited := s.expect(s.do("GET", path, alice, nil, "If-None-Match", "W/"+etag, "Prefer", "wait=1"),
			http.StatusNotModified, "")
		if got := waited.Header.Get("Preference-Applied"); got != "wait=1" {
			t.Errorf("Preference-Applied %q, want wait=1", got)
		}
		s.expect(s.do("GET", path, bob, nil, "If-None-Match", etag, "Prefer", "wait=5"),
			http.StatusNotFound, "not_found")

		// A wait answered by the payment: the order as it now is.
		type answer struct {
			status int
			etag   string
			order  order
			err    error
		}
		answered := make(chan answer, 1)
		go func() {
			var a answer
			defer func() { answered <- a }()
			req, err := http.NewRequest("GET", s.front+path, nil)
			if err != nil {
				a.err = err
				return
			}
			req.Header.Set("Authorization", "Bearer "+alice)
			req.Header.Set("If-None-Match", etag)
			req.Header.Set("Prefer", "wait=10")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				a.err = err
				return
			}
			defer resp.Body.Close()
			a.status, a.etag = resp.StatusCode, resp.Header.Get("ETag")
			body, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode == http.StatusOK {
				err = json.Unmarshal(body, &a.order)
			}
			a.err = err
		}()
		s.confirm(alice, p.Payment.ID, "pm_card_visa")
		a := <-answered
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.status != http.StatusOK || a.order.Status != "paid" || a.etag == etag {
			t.Errorf("the wait answered %d, status %q, ETag %q (was %q); want 200, paid, a new ETag",
				a.status, a.order.Status, a.etag, etag)
		}
	})
}
