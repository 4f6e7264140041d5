package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// BenchmarkCheckout measures whole checkouts through the front door: place
// the order, confirm its payment with pm_card_visa, and poll the order until
// it is paid — on SQLite and on PostgreSQL, every service real, from 8 and
// from 32 clients, each its own customer. Filling the cart (and waiting for
// the last order's lines to leave it) is not timed. Run it with a fixed count, as
// the shop starts once per run: go test -run '^$' -bench Checkout
// -benchtime 400x ./cmd/emporium
func BenchmarkCheckout(b *testing.B) {
	kinds := []string{"sqlite"}
	if sqldbtest.PostgresURL() != "" {
		kinds = append(kinds, "postgres")
	}
	for _, kind := range kinds {
		for _, clients := range []int{8, 32} {
			b.Run(fmt.Sprintf("%s/clients=%d", kind, clients), func(b *testing.B) {
				benchmarkCheckout(b, kind, clients)
			})
		}
	}
}

// benchmarkCheckout runs b.N checkouts on a new shop on kind, from clients
// customers at once.
func benchmarkCheckout(b *testing.B, kind string, clients int) {
	s := startShop(b, kind, shopOptions{})
	product := s.product(1000, 1_000_000)
	tokens := make([]string, clients)
	for i := range tokens {
		_, tokens[i] = s.customer()
	}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	errc := make(chan error, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	var untimed atomic.Int64 // nanoseconds spent filling carts, summed over clients
	for i := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := fillCart(c, s.front, tokens[i], product); err != nil {
					errc <- err
					return
				}
				t1 := time.Now()
				untimed.Add(int64(t1.Sub(t0)))
				if err := checkoutAndPay(c, s.front, tokens[i]); err != nil {
					errc <- err
					return
				}
				lat[i] = append(lat[i], time.Since(t1))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start) - time.Duration(untimed.Load()/int64(clients))
	b.StopTimer()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "checkouts/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// benchCall sends a JSON request and decodes a JSON answer of status want into out.
func benchCall(c *http.Client, method, url, token string, body, out any, want int, headers ...string) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// fillCart waits until the customer's cart is empty (the last order's lines
// leave it when the cart hears of the order) and puts one unit in it.
func fillCart(c *http.Client, front, token, product string) error {
	err := testkit.Poll(30*time.Second, func() bool {
		var cart struct {
			Items []json.RawMessage `json:"items"`
		}
		return benchCall(c, "GET", front+"/api/v1/cart", token, nil, &cart, http.StatusOK) == nil &&
			len(cart.Items) == 0
	})
	if err != nil {
		return fmt.Errorf("the cart stays full: %w", err)
	}
	return benchCall(c, "POST", front+"/api/v1/cart/items", token,
		map[string]any{"product_id": product, "quantity": 1}, nil, http.StatusOK)
}

// checkoutAndPay places an order, pays it, and polls it until it is paid.
func checkoutAndPay(c *http.Client, front, token string) error {
	var p placed
	if err := benchCall(c, "POST", front+"/api/v1/orders", token, address(), &p, http.StatusCreated,
		"Idempotency-Key", newKey()); err != nil {
		return err
	}
	if err := benchCall(c, "POST", front+"/api/v1/payments/"+p.Payment.ID+"/confirm", token,
		map[string]any{"payment_method": "pm_card_visa"}, nil, http.StatusOK); err != nil {
		return err
	}
	return testkit.Poll(30*time.Second, func() bool {
		var o order
		return benchCall(c, "GET", front+"/api/v1/orders/"+p.Order.ID, token, nil, &o, http.StatusOK) == nil &&
			o.Status == "paid"
	})
}
