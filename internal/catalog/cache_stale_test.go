package catalog

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// TestCacheReplicasSeeEveryChange: with an in-process cache on each of two
// instances, a change on A that touches neither name, price nor status — a
// new description, other categories — shows on B within seconds, by id and
// in B's cached listings: every change is announced, and B drops what it
// cached on the event.
func TestCacheReplicasSeeEveryChange(t *testing.T) {
	t.Parallel()
	a, b := cacheReplicas(t, nil)
	f := newReplicaFixture(a)
	following(t, a, b)

	// B caches the kettle, and a search for a word no product has yet.
	word := strings.ToLower(rand.Text()[:12])
	byWord := "sort=price&q=" + word
	servedFromCache(t, b, b, f.kettle.ID, byWord)
	if ids, _ := listedIDs(b, byWord); len(ids) != 0 {
		t.Fatalf("B finds %v for %q before any product has it", ids, word)
	}
	description := "Now with " + word
	edit := map[string]any{"description": description}
	expect(t, a.patchProduct(f.kettle.ID, edit), http.StatusOK, "")
	eventually(t, 5*time.Second, "B shows A's new description by id and finds it", func() bool {
		ids, _ := listedIDs(b, byWord)
		return b.readProduct(f.kettle.ID, "").Description == description &&
			slices.Equal(ids, []string{f.kettle.ID})
	})

	// B caches the listing of teapots; A moves the kettle there.
	byTeapots := "sort=price&category=" + f.teapots.Slug
	for range 2 {
		if ids, _ := listedIDs(b, byTeapots); !slices.Equal(ids, []string{f.teapot.ID}) {
			t.Fatalf("B lists %v in teapots before the move", ids)
		}
	}
	move := map[string]any{"category_ids": []string{f.teapots.ID}}
	expect(t, a.patchProduct(f.kettle.ID, move), http.StatusOK, "")
	want := []string{f.kettle.ID, f.teapot.ID}
	eventually(t, 5*time.Second, "B lists the kettle in teapots", func() bool {
		ids, _ := listedIDs(b, byTeapots)
		return slices.Equal(ids, want)
	})
}

// bareService is the service on a migrated database, without the workers
// that run beside it (the outbox relay, the event follower): nothing touches
// its cache but its own calls.
func bareService(t testing.TB, dbURL string) *Service {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, outbox.Schema, inbox.Schema, Schema); err != nil {
		t.Fatal(err)
	}
	svc, err := New(ctx, db, testConfig(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// cachedProduct returns the body svc cached for a product, failing the test
// when there is none.
func cachedProduct(t *testing.T, svc *Service, id string) cached {
	t.Helper()
	raw, ok := svc.cache.store.Get(context.Background(), productKey(id))
	if !ok {
		t.Fatalf("product %s is not cached", id)
	}
	var cp cached
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestCacheStaleBodyNotServed: a body cached before a write, and stored in
// the cache after the write's invalidation (a read that loaded the row just
// before the write stores its result just after it), is not served: the
// answer has the write in it, and the cache entry is replaced. The same for
// a cached listing page holding an old version of a product.
func TestCacheStaleBodyNotServed(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		svc := bareService(t, dbURL)
		ctx := context.Background()
		store := svc.cache.store
		p, err := svc.CreateProduct(ctx, CreateProductRequest{SKU: "STALE-1", Name: "Stale kettle",
			Price: Money{Amount: 1000, Currency: "USD"}, Status: StatusActive})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Adjust(ctx, p.ID, 5, "test"); err != nil {
			t.Fatal(err)
		}
		setPrice := func(amount int64) {
			t.Helper()
			price := Money{Amount: amount, Currency: "USD"}
			_, err := svc.UpdateProduct(ctx, p.ID, "", UpdateProductRequest{
				Price: web.Optional[Money]{Set: true, Value: price}})
			if err != nil {
				t.Fatal(err)
			}
		}

		if _, err := svc.Product(ctx, p.ID, false); err != nil {
			t.Fatal(err)
		}
		old, _ := json.Marshal(cachedProduct(t, svc, p.ID))
		setPrice(2000)
		store.Set(ctx, productKey(p.ID), old, time.Minute) // the late store of the race
		got, err := svc.Product(ctx, p.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Price.Amount != 2000 || got.ETag() != `"2-5"` {
			t.Errorf("the product after the race: price %d, ETag %s; want 2000, \"2-5\"",
				got.Price.Amount, got.ETag())
		}
		if cp := cachedProduct(t, svc, p.ID); cp.V != 2 || cp.P.Price.Amount != 2000 {
			t.Errorf("the cache holds version %d, price %d; want 2, 2000", cp.V, cp.P.Price.Amount)
		}

		q := Query{Sort: "price", Status: StatusActive, Limit: 20}
		if _, _, err := svc.List(ctx, q); err != nil {
			t.Fatal(err)
		}
		oldPage, ok := store.Get(ctx, svc.cache.listKey(ctx, q))
		if !ok {
			t.Fatal("the listing page is not cached")
		}
		setPrice(3000)
		store.Set(ctx, svc.cache.listKey(ctx, q), oldPage, time.Minute)
		items, _, err := svc.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].Price.Amount != 3000 || items[0].ETag() != `"3-5"` {
			var got []string
			for _, it := range items {
				got = append(got, itoa(it.Price.Amount)+" "+it.ETag())
			}
			t.Errorf("the listing after the race: %q (price ETag), want [3000 \"3-5\"]", got)
		}
	})
}
