package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
	"emporium/internal/platform/testkit"
)

// benchClient keeps enough idle connections for every concurrent client.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	Timeout: 30 * time.Second}

// benchShop runs the all-in-one in this process, as cmd/emporium wires it
// (demo catalog included), and returns the front door's base URL.
func benchShop(b *testing.B) string {
	b.Helper()
	vars := map[string]string{"EMPORIUM_DATA_DIR": b.TempDir(), "EMPORIUM_ADDR": "127.0.0.1:0",
		"EMPORIUM_INTERNAL_ADDR": "127.0.0.1:0", "SHUTDOWN_DRAIN": "0s"}
	var cfg Config
	if err := config.LoadFrom(func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, &cfg); err != nil {
		b.Fatal(err)
	}
	units, err := services(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rt, err := app.StartAllInOne(ctx, cfg.AllInOne, units, log)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("all-in-one: %v", err)
		}
	})
	base := "http://" + rt.Addr()
	testkit.Eventually(b, 30*time.Second, func() bool {
		res, err := benchClient.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, "the all-in-one is not ready")
	return base
}

// benchSend sends a JSON request and decodes the answer into out when it is not
// nil; any status but want is an error.
func benchSend(method, url, bearer string, body, out any, want int) error {
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
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := benchClient.Do(req)
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

// shopper registers a customer and returns their access token.
func shopper(b *testing.B, base string, n int) string {
	b.Helper()
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if err := benchSend("POST", base+"/api/v1/auth/register", "", map[string]any{
		"email": fmt.Sprintf("shopper%d@example.com", n), "password": "correct horse battery",
		"name": "Shopper"}, &s, http.StatusCreated); err != nil {
		b.Fatal(err)
	}
	return s.AccessToken
}

// demoProducts returns the ids of the demo catalog's products.
func demoProducts(b *testing.B, base string) []string {
	b.Helper()
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := benchSend("GET", base+"/api/v1/products?limit=100", "", nil, &page, http.StatusOK); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(page.Items))
	for i, p := range page.Items {
		ids[i] = p.ID
	}
	return ids
}

// measureClients runs b.N calls of op, spread over one goroutine per
// client; op gets the client and the client's count of calls before.
func measureClients(b *testing.B, clients int, op func(client, n int) error) {
	b.Helper()
	testkit.ClosedLoop(b, clients, "req", func(c testkit.Call) error { return op(c.Client, c.Seq) })
}

const benchClients = 8

// BenchmarkCartRead reads carts of 10 lines through the all-in-one's front
// door, each priced by the catalog, from 8 clients (one customer each).
func BenchmarkCartRead(b *testing.B) {
	base := benchShop(b)
	ids := demoProducts(b, base)
	tokens := make([]string, benchClients)
	for c := range tokens {
		tokens[c] = shopper(b, base, c)
		for _, id := range ids[:10] {
			if err := benchSend("POST", base+"/api/v1/cart/items", tokens[c],
				map[string]any{"product_id": id, "quantity": 1}, nil, http.StatusOK); err != nil {
				b.Fatal(err)
			}
		}
	}
	measureClients(b, benchClients, func(c, _ int) error {
		var cart struct {
			Items []json.RawMessage `json:"items"`
			Stale bool              `json:"stale"`
		}
		if err := benchSend("GET", base+"/api/v1/cart", tokens[c], nil, &cart, http.StatusOK); err != nil {
			return err
		}
		if len(cart.Items) != 10 || cart.Stale {
			return fmt.Errorf("a cart of %d lines, stale %v", len(cart.Items), cart.Stale)
		}
		return nil
	})
}

// BenchmarkCartAdd adds one unit of a demo product at a time to the carts of
// 8 customers through the all-in-one's front door. Before a line would pass
// 99 units the customer's cart is emptied, in the timed request that meets
// it (once in 4950 adds).
func BenchmarkCartAdd(b *testing.B) {
	base := benchShop(b)
	ids := demoProducts(b, base)
	tokens := make([]string, benchClients)
	for c := range tokens {
		tokens[c] = shopper(b, base, c)
	}
	perCart := len(ids) * 99
	measureClients(b, benchClients, func(c, n int) error {
		if n > 0 && n%perCart == 0 {
			if err := benchSend("DELETE", base+"/api/v1/cart", tokens[c], nil, nil, http.StatusNoContent); err != nil {
				return err
			}
		}
		return benchSend("POST", base+"/api/v1/cart/items", tokens[c],
			map[string]any{"product_id": ids[n%len(ids)], "quantity": 1}, nil, http.StatusOK)
	})
}
