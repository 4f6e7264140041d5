package catalog

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"emporium/internal/event"
	"emporium/internal/platform/openapi/openapitest"
)

// burstClient is e with a client that opens a connection per request and
// keeps none. A burst of concurrent requests through a keep-alive pool can
// leave a connection that the pool dialed and then did not need; the server
// sees it as new, never idle, and its graceful shutdown waits for it longer
// than its timeout.
func (e *env) burstClient() *env {
	e.t.Helper()
	doc, err := catalogDoc()
	if err != nil {
		e.t.Fatal(err)
	}
	c := *e
	c.client.HTTP = &http.Client{Transport: openapitest.ValidatingTransport(e.t, doc,
		&http.Transport{DisableKeepAlives: true}, "GET /readyz", "GET /livez", "GET /metrics")}
	return &c
}

// TestConcurrentEditsWithoutIfMatch: edits without If-Match never fail for
// another edit's sake: 19 PATCHes and a DELETE of one product at the same
// time all succeed, one after another, each with its own version, and the
// version ends 20 higher. (If-Match is what asks for 412 on a stale version.)
func TestConcurrentEditsWithoutIfMatch(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("QUEUE-1", 1000, 0)
		burst, token := e.burstClient(), e.adminToken()
		const n = 20
		got := make([]response, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				method, body := "PATCH", any(priceBody(int64(2001+i)))
				if i == n-1 {
					method, body = "DELETE", nil
				}
				got[i], errs[i] = burst.trySend(e.url, method, "/api/v1/products/"+p.ID, body,
					"Authorization", "Bearer "+token)
			})
		}
		wg.Wait()
		var etags []string
		for i, r := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			want := http.StatusOK
			if i == n-1 {
				want = http.StatusNoContent
			}
			if r.status != want {
				t.Errorf("request %d: status %d, want %d: %s", i, r.status, want, r.body)
			}
			if etag := r.header.Get("ETag"); etag != "" {
				etags = append(etags, etag)
			}
		}
		slices.Sort(etags)
		if etags = slices.Compact(etags); len(etags) != n-1 {
			t.Errorf("the PATCHes answered %d distinct ETags %v, want %d", len(etags), etags, n-1)
		}
		r := e.getProduct(p.ID, e.adminToken())
		expect(t, r, http.StatusOK, "")
		var final Product
		r.json(t, &final)
		if etag := r.header.Get("ETag"); etag != `"21-0"` || final.Status != StatusArchived {
			t.Errorf("after the edits: ETag %s, status %s; want \"21-0\", archived",
				etag, final.Status)
		}
	})
}

// TestImportProductWithStockIsAtomic: the importer creates a product and its
// starting stock in one transaction: when the stock step fails nothing is
// left behind — no product, no event — and importing the row again works.
func TestImportProductWithStockIsAtomic(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		ctx := context.Background()
		rename := func(from, to string) {
			t.Helper()
			_, err := e.svc.db.ExecContext(ctx, "ALTER TABLE "+from+" RENAME TO "+to)
			if err != nil {
				t.Fatal(err)
			}
		}
		f := ImportFile{Products: []ImportProduct{
			{SKU: "ATOMIC-1", Name: "Atomic kettle", Price: 1500, Status: StatusActive, Stock: 7}}}

		// The stock step fails: its ledger row has no table to go to.
		rename("inventory_ledger", "inventory_ledger_away")
		res, err := e.svc.Import(ctx, f, nil)
		rename("inventory_ledger_away", "inventory_ledger")
		if err == nil {
			t.Fatalf("the import succeeded without a ledger: %+v", res)
		}
		if p := e.productBySKU("ATOMIC-1"); p != nil {
			t.Errorf("the failed import left a product behind: %+v", p)
		}
		if evs := outboxEvents(t, e, event.ProductUpdated); len(evs) != 0 {
			t.Errorf("the failed import left %d product events behind", len(evs))
		}

		res, err = e.svc.Import(ctx, f, nil)
		if err != nil || res.Imported != 1 || len(res.Rejected) != 0 {
			t.Fatalf("importing again: %+v, %v; want 1 imported", res, err)
		}
		p := e.productBySKU("ATOMIC-1")
		if p == nil {
			t.Fatal("importing again created no product")
		}
		wantInv := Inventory{ProductID: p.ID, OnHand: 7, Available: 7}
		if got, want := e.inventory(p.ID), wantInv; got != want {
			t.Errorf("inventory %+v, want %+v", got, want)
		}
		want := []invLedgerRow{{onHand: 7, reason: "imported"}}
		if got := e.inventoryLedger(p.ID); !slices.Equal(got, want) {
			t.Errorf("ledger %+v, want %+v", got, want)
		}
	})
}
