package cart

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// A cart is priced by the catalog when it is read: a new price shows in a
// read soon after — the catalog's event drops what the cart kept, with the
// cart's clock stopped — and a product archived later keeps its line,
// unavailable.
func TestPricedAtReadTime(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := clock()
		e := start(t, dbURL, func(c *Config) { c.now = clk.Now })
		mug, tea := e.createProduct(1299, 10), e.createProduct(450, 5)
		ada := e.customer("ada")
		e.add(ada, mug.ID, 2)
		e.add(ada, tea.ID, 1)

		e.editProduct(mug.ID, map[string]any{"price": map[string]any{"amount": 999, "currency": "USD"},
			"name": "Blue mug"})
		var c Cart
		eventually(t, 10*time.Second, "the new price shows", func() bool {
			c = e.read(ada)
			return c.Items[0].UnitPrice.Amount == 999
		})
		if m := c.Items[0]; m.Name != "Blue mug" || m.LineTotal.Amount != 1998 {
			t.Errorf("after the price change: %+v", m)
		}
		if c.Subtotal.Amount != 1998+450 {
			t.Errorf("subtotal %d, want %d", c.Subtotal.Amount, 1998+450)
		}

		e.editProduct(tea.ID, map[string]any{"status": "archived"})
		eventually(t, 10*time.Second, "the archived line shows unavailable", func() bool {
			c = e.read(ada)
			return len(c.Items) == 2 && c.Items[1].Available == 0
		})
		if len(c.Items) != 2 {
			t.Fatalf("%d lines after archiving, want 2", len(c.Items))
		}
		if te := c.Items[1]; te.Available != 0 || te.Name != tea.Name || te.UnitPrice.Amount != 450 {
			t.Errorf("archived line: %+v, want its name and price with available 0", te)
		}
		if c.Subtotal.Amount != 1998+450 || c.ItemCount != 3 || c.Stale {
			t.Errorf("subtotal %d, item_count %d, stale %v: every line counts", c.Subtotal.Amount, c.ItemCount, c.Stale)
		}
		// Changing the archived line works; adding more of it does not.
		expect(t, e.do("PATCH", "/api/v1/cart/items/"+tea.ID, ada, map[string]any{"quantity": 2}), http.StatusOK, "")
		expect(t, e.do("POST", "/api/v1/cart/items", ada, map[string]any{"product_id": tea.ID, "quantity": 1}),
			http.StatusNotFound, "product_not_found")
	})
}

// With the catalog stopped, reads answer 200 from the last known names and
// prices with "stale": true once what the cart kept of the catalog's
// answers is too old, and adds answer 503 with Retry-After at once; once the
// catalog is back, everything works again.
func TestCatalogDown(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := clock()
		e := start(t, dbURL, func(c *Config) { c.now = clk.Now })
		mug, tea := e.createProduct(1299, 10), e.createProduct(450, 5)
		ada := e.customer("ada")
		e.add(ada, mug.ID, 2)
		// The last price the cart saw is the one after this change.
		e.editProduct(mug.ID, map[string]any{"price": map[string]any{"amount": 1099, "currency": "USD"}})
		clk.Advance(summaryMaxAge)
		fresh := e.read(ada)
		guest := e.newGuestCart(tea.ID, 1)

		e.catalog.Stop()
		clk.Advance(summaryMaxAge)
		for range 10 { // past the breaker's threshold
			c := e.read(ada)
			if !c.Stale {
				t.Fatal("a read without the catalog is not marked stale")
			}
			m := c.Items[0]
			if m.Name != fresh.Items[0].Name || m.SKU != mug.SKU || m.UnitPrice.Amount != 1099 ||
				m.LineTotal.Amount != 2198 || m.Available != 0 || c.Subtotal.Amount != 2198 || c.ItemCount != 2 {
				t.Fatalf("stale read: %+v, subtotal %v", m, c.Subtotal)
			}
		}
		// Open, or half-open once its pause is over: not closed.
		if state := e.breaker(); state == 0 {
			t.Error("the breaker is closed after repeated failures")
		}
		if items := e.guestItems(guest); len(items) != 1 {
			t.Errorf("guest cart without the catalog: %v", items)
		}
		for range 3 {
			began := time.Now()
			r := e.do("POST", "/api/v1/cart/items", ada, map[string]any{"product_id": tea.ID, "quantity": 1})
			took := time.Since(began)
			expect(t, r, http.StatusServiceUnavailable, "unavailable")
			if r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			// Not a speed measurement: a bound that only a hang can pass.
			if took > time.Second {
				t.Errorf("an add without the catalog took %v", took)
			}
		}
		// Changes that need no catalog go on, answered stale.
		r := e.do("PATCH", "/api/v1/cart/items/"+mug.ID, ada, map[string]any{"quantity": 3})
		expect(t, r, http.StatusOK, "")
		var c Cart
		r.JSON(t, &c)
		if !c.Stale || c.Items[0].Quantity != 3 {
			t.Errorf("PATCH without the catalog: %+v", c)
		}

		e.catalog.Start()
		eventually(t, 10*time.Second, "the cart reads fresh again", func() bool {
			return !e.read(ada).Stale
		})
		if state := e.breaker(); state != 0 {
			t.Errorf("breaker state %d once the catalog answers, want 0 (closed)", state)
		}
		c = e.add(ada, tea.ID, 1)
		if c.Stale || len(c.Items) != 2 || c.Items[0].Available != 10 {
			t.Errorf("after the catalog came back: %+v", c)
		}
	})
}

// A catalog that accepts connections and never answers: reads answer stale
// and adds 503 within the per-call timeout, not when the client gives up.
func TestCatalogHangs(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := clock()
		e := start(t, dbURL, func(c *Config) {
			c.CatalogTimeout = 100 * time.Millisecond
			c.now = clk.Now
		})
		mug := e.createProduct(1299, 10)
		ada := e.customer("ada")
		e.add(ada, mug.ID, 1)
		clk.Advance(summaryMaxAge)
		e.catalog.Stop()
		hang := e.catalog.hang()
		defer hang()
		if c := e.read(ada); !c.Stale || c.Items[0].Name != mug.Name {
			t.Errorf("read with a hanging catalog: %+v", c)
		}
		r := e.do("POST", "/api/v1/cart/items", ada, map[string]any{"product_id": mug.ID, "quantity": 1})
		expect(t, r, http.StatusServiceUnavailable, "unavailable")
	})
}

// A cart read asks the catalog for its products' summaries from the
// catalog's read cache, unless it asked less than summaryMaxAge ago; an add
// asks its database, so that a product archived a moment ago is not added,
// and its answer prices the reads that follow. (Seen by a recording proxy
// between the cart and the real catalog.)
func TestReadsPriceFromTheCatalogCache(t *testing.T) {
	e := start(t, sqldbtest.SQLiteURL(t), nil)
	clk := clock()
	svc, rec := e.proxied(clk)
	mug := e.createProduct(1299, 10)
	ctx := context.Background()
	if _, _, err := svc.AddItem(ctx, customer("ada"), AddItemRequest{ProductID: mug.ID, Quantity: 2}); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{0, summaryMaxAge - time.Millisecond, time.Millisecond} {
		clk.Advance(wait)
		c, err := svc.Cart(ctx, customer("ada"))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Items) != 1 || c.Items[0].Available != 10 || c.Items[0].UnitPrice.Amount != 1299 || c.Stale {
			t.Errorf("cart %+v", c)
		}
	}
	var got []string
	for _, q := range rec.calls() {
		got = append(got, q.Get("view")+" "+q.Get("cached"))
	}
	if !slices.Equal(got, []string{"summary ", "summary true"}) {
		t.Errorf("the catalog was asked with view, cached = %q, want summaries, for an add not cached and, "+
			"%v after it, for a read cached", got, summaryMaxAge)
	}
}

// recorder is a proxy between a cart and the real catalog that records the
// queries of the calls, and answers 503 itself while failing is set.
type recorder struct {
	mu      sync.Mutex
	queries []url.Values
	failing atomic.Bool
}

// calls returns the queries of the calls so far.
func (rec *recorder) calls() []url.Values {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.queries)
}

// proxied returns a second cart service, on a database of its own and on
// clk, that calls e's catalog through a recorder.
func (e *env) proxied(clk *testkit.Clock) (*Service, *recorder) {
	e.t.Helper()
	target, err := url.Parse(e.catalog.internal)
	if err != nil {
		e.t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.queries = append(rec.queries, r.URL.Query())
		rec.mu.Unlock()
		if rec.failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	e.t.Cleanup(srv.Close)
	db := sqldbtest.SQLite(e.t, outbox.Schema, inbox.Schema, Schema)
	cfg := testConfig()
	cfg.now = clk.Now
	svc, err := New(db, cfg, srv.URL, e.token, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc, rec
}
