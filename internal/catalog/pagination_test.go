package catalog

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pagingNames and pagingPrices repeat on purpose, so that every sort has
// ties that only the id breaks.
var (
	pagingNames  = []string{"Anvil", "anvil", "Bucket", "Crate", "Drum", "Easel"}
	pagingPrices = []int64{500, 1500, 1500, 2500, 9900}
)

// pagingProduct creates an active product with the given name and price,
// and a slug of its own, from any goroutine.
func (e *env) pagingProduct(sku, name string, price int64) (*Product, error) {
	r, err := e.trySend(e.url, "POST", "/api/v1/products", map[string]any{
		"sku": sku, "name": name, "slug": strings.ToLower(sku),
		"price": map[string]any{"amount": price, "currency": "USD"}, "status": "active"},
		"Authorization", "Bearer "+e.adminToken())
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusCreated {
		return nil, fmt.Errorf("create %s: %d %s", sku, r.status, r.body)
	}
	var p Product
	if err := json.Unmarshal(r.body, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// compareIn orders two products as the sort does, ties broken by id.
func compareIn(sort string, a, b *Product) int {
	var c int
	switch sort {
	case "-created_at":
		c = b.CreatedAt.Compare(a.CreatedAt)
	case "price":
		c = cmp.Compare(a.Price.Amount, b.Price.Amount)
	case "-price":
		c = cmp.Compare(b.Price.Amount, a.Price.Amount)
	case "name":
		c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	}
	if c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// TestPagesWhileInserting pages through every sort while other goroutines
// add products: each product that was there before appears exactly once, in
// order, and no product appears twice.
func TestPagesWhileInserting(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		original := map[string]bool{}
		for i := range 60 {
			p, err := e.pagingProduct(fmt.Sprintf("PAGE-%02d", i), pagingNames[i%len(pagingNames)],
				pagingPrices[i%len(pagingPrices)])
			if err != nil {
				t.Fatal(err)
			}
			original[p.ID] = true
		}
		// A draft is never listed publicly.
		draft := e.draftProduct("PAGE-DRAFT", 1)

		// Two inserters add up to 2*perInserter products during each sort's paging.
		const perInserter = 20
		var inserted atomic.Int64
		for si, sort := range []string{"-created_at", "price", "-price", "name"} {
			t.Run(sort, func(t *testing.T) {
				stop := make(chan struct{})
				var wg sync.WaitGroup
				errc := make(chan error, 2)
				for w := range 2 {
					wg.Go(func() {
						for i := range perInserter {
							select {
							case <-stop:
								return
							default:
							}
							sku := fmt.Sprintf("NEW-S%d-%d-%03d", si, w, i)
							k := int(inserted.Load())
							_, err := e.pagingProduct(sku, pagingNames[k%len(pagingNames)],
								pagingPrices[k%len(pagingPrices)])
							if err != nil {
								errc <- err
								return
							}
							inserted.Add(1)
						}
					})
				}
				atStart := inserted.Load()
				seen := map[string]int{}
				var last *Product
				cursor, pages := "", 0
				for {
					// Let the inserters land at least one product between two pages.
					if before := inserted.Load(); before < atStart+2*perInserter {
						eventually(t, 10*time.Second, "an inserter adds a product", func() bool {
							return inserted.Load() > before || len(errc) > 0
						})
					}
					q := url.Values{"sort": {sort}, "limit": {"7"}}
					if cursor != "" {
						q.Set("cursor", cursor)
					}
					r := e.do("GET", "/api/v1/products?"+q.Encode(), "", nil)
					expect(t, r, http.StatusOK, "")
					var page struct {
						Items      []*Product `json:"items"`
						NextCursor string     `json:"next_cursor"`
					}
					r.json(t, &page)
					pages++
					if len(page.Items) > 7 {
						t.Fatalf("page %d has %d items", pages, len(page.Items))
					}
					for _, p := range page.Items {
						seen[p.ID]++
						if p.Status != StatusActive || p.ID == draft.ID {
							t.Errorf("listed %s with status %s", p.SKU, p.Status)
						}
						if last != nil && compareIn(sort, last, p) >= 0 {
							t.Errorf("%s (%s, %d, %v) listed after %s (%s, %d, %v)", p.SKU, p.Name,
								p.Price.Amount, p.CreatedAt, last.SKU, last.Name, last.Price.Amount,
								last.CreatedAt)
						}
						last = p
					}
					if cursor = page.NextCursor; cursor == "" {
						break
					}
					if pages > 100 {
						t.Fatal("more than 100 pages")
					}
				}
				close(stop)
				wg.Wait()
				close(errc)
				for err := range errc {
					t.Fatal(err)
				}
				newSeen := 0
				for id, n := range seen {
					if n > 1 {
						t.Errorf("%s listed %d times", id, n)
					}
					if !original[id] {
						newSeen++
					}
				}
				for id := range original {
					if seen[id] != 1 {
						t.Errorf("original product %s listed %d times, want once", id, seen[id])
					}
				}
				t.Logf("%d pages; %d products inserted so far, %d of them listed", pages,
					inserted.Load(), newSeen)
			})
		}
	})
}
