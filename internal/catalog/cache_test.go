package catalog

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// redisURLEnv names the Redis server the cache tests use when it is set.
const redisURLEnv = "EMPORIUM_TEST_REDIS_URL"

// sneak changes a product's description in the database behind the
// service's back: a read that still shows the old one was served from a
// cache.
func sneak(t testing.TB, e *env, productID, description string) {
	t.Helper()
	_, err := e.svc.db.ExecContext(context.Background(),
		"UPDATE products SET description = $1 WHERE id = $2", description, productID)
	if err != nil {
		t.Fatal(err)
	}
}

// servedFromCache warms warmer's cache with the product (and the listing
// query, unless it is empty), changes the product behind the services' back,
// and checks that reader still answers what warmer answered before — so it
// answers from a cache. Instances also drop entries when their own or other
// instances' events arrive, a moment after each write, so it tries until no
// event gets in the way. It returns the description now in the database.
func servedFromCache(t *testing.T, warmer, reader *env, productID, query string) string {
	t.Helper()
	var sneaked string
	described := func(e *env) (byID, listed string) {
		byID = e.readProduct(productID, "").Description
		if query != "" {
			_, ps := listedIDs(e, query)
			listed = ps[productID].Description
		}
		return byID, listed
	}
	eventually(t, 10*time.Second, "reads are answered from the cache", func() bool {
		described(warmer)
		byID, listed := described(warmer)
		sneaked = "sneaked " + rand.Text()
		sneak(t, warmer, productID, sneaked)
		gotByID, gotListed := described(reader)
		return gotByID == byID && gotListed == listed
	})
	return sneaked
}

// priceBody is a PATCH body that sets the price.
func priceBody(amount int64) map[string]any {
	return map[string]any{"price": map[string]any{"amount": amount, "currency": "USD"}}
}

// uniqueSlug is base with a random suffix: listing pages are cached by query,
// and a Redis cache is shared by every test that uses the server.
func uniqueSlug(base string) string {
	return base + "-" + strings.ToLower(rand.Text()[:10])
}

// listedIDs reads one listing page and returns its ids, and the products by id.
func listedIDs(e *env, query string) ([]string, map[string]Product) {
	e.t.Helper()
	items := e.listPage("", query).Items
	byID := make(map[string]Product, len(items))
	for _, p := range items {
		byID[p.ID] = p
	}
	return idsOf(items), byID
}

// TestCacheOneInstance: reads are cached (a change behind the service's back
// is not seen), and every change made through the service is seen by the
// very next read by id and the very next listing, both cached before it.
// Availability is never cached.
func TestCacheOneInstance(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		cups := e.newCategory("Cups", "cups", "", 0)
		plates := e.newCategory("Plates", "plates", "", 1)
		p := e.createProduct("CACHE-1", 1000, 5, cups.ID)
		const byCups, byPlates = "sort=price&category=cups", "sort=price&category=plates"
		warm := func(queries ...string) {
			t.Helper()
			for range 2 {
				e.readProduct(p.ID, "")
				for _, q := range queries {
					e.listPage("", q)
				}
			}
		}

		sneaked := servedFromCache(t, e, e, p.ID, byCups)

		// A price change.
		expect(t, e.patchProduct(p.ID, priceBody(1250)), http.StatusOK, "")
		if got := e.readProduct(p.ID, ""); got.Price.Amount != 1250 || got.Description != sneaked {
			t.Errorf("after the price change, GET answers price %d, description %q",
				got.Price.Amount, got.Description)
		}
		if _, got := listedIDs(e, byCups); got[p.ID].Price.Amount != 1250 {
			t.Errorf("after the price change, the listing shows %+v", got[p.ID])
		}

		// The product moves to another category.
		warm(byCups, byPlates)
		r := e.patchProduct(p.ID, map[string]any{"category_ids": []string{plates.ID}})
		expect(t, r, http.StatusOK, "")
		if ids, _ := listedIDs(e, byCups); len(ids) != 0 {
			t.Errorf("cups still lists %v", ids)
		}
		if ids, _ := listedIDs(e, byPlates); !slices.Equal(ids, []string{p.ID}) {
			t.Errorf("plates lists %v", ids)
		}

		// The category tree changes: plates moves under cups.
		warm(byCups, byPlates)
		r = e.patchCategory(plates.ID, map[string]any{"parent_id": cups.ID})
		expect(t, r, http.StatusOK, "")
		if ids, _ := listedIDs(e, byCups); !slices.Equal(ids, []string{p.ID}) {
			t.Errorf("after moving plates under cups, cups lists %v", ids)
		}

		// Availability is read fresh: a hold through the internal API shows at once.
		warm(byCups, "sort=price&in_stock=true")
		e.holdStock("cache-r1", p.ID, 5)
		r = e.getProduct(p.ID, "")
		expect(t, r, http.StatusOK, "")
		var got Product
		r.json(t, &got)
		if got.Available != 0 || r.header.Get("ETag") != `"3-0"` {
			t.Errorf("after the hold: available %d, ETag %s; want 0, \"3-0\"",
				got.Available, r.header.Get("ETag"))
		}
		if _, listed := listedIDs(e, byCups); listed[p.ID].Available != 0 {
			t.Errorf("after the hold, the listing shows available %d", listed[p.ID].Available)
		}
		if ids, _ := listedIDs(e, "sort=price&in_stock=true"); len(ids) != 0 {
			t.Errorf("in_stock=true lists %v with nothing available", ids)
		}

		// Archiving hides the product at once.
		r = e.do("DELETE", "/api/v1/products/"+p.ID, e.adminToken(), nil)
		expect(t, r, http.StatusNoContent, "")
		expect(t, e.getProduct(p.ID, ""), http.StatusNotFound, "not_found")
		if ids, _ := listedIDs(e, byCups); len(ids) != 0 {
			t.Errorf("an archived product is listed: %v", ids)
		}
	})
}

// cacheReplicas starts two catalog instances, A and B, on one PostgreSQL
// database and one NATS server, each with the cache edit gives it (its own
// in-process cache by default). It skips the test without PostgreSQL.
func cacheReplicas(t *testing.T, edit func(*Config)) (a, b *env) {
	t.Helper()
	sqldbtest.NeedPostgres(t) // two instances share a PostgreSQL database
	dbURL := sqldbtest.PostgresDatabase(t, outbox.Schema, inbox.Schema, Schema)
	natsURL, iss := newNATS(t), authtest.NewIssuer(t)
	return startOn(t, dbURL, natsURL, iss, edit), startOn(t, dbURL, natsURL, iss, edit)
}

// following waits until B drops what it cached of a product when A changes
// it: B's event follower starts beside its listeners and reads only the
// events published after it subscribed.
func following(t *testing.T, a, b *env) {
	t.Helper()
	p := a.createProduct("FOLLOW-1", 100, 0)
	price := int64(100)
	eventually(t, 20*time.Second, "B drops its copy when A changes the product", func() bool {
		b.readProduct(p.ID, "")
		price++
		expect(t, a.patchProduct(p.ID, priceBody(price)), http.StatusOK, "")
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(2 * time.Second)
		for b.readProduct(p.ID, "").Price.Amount != price {
			select {
			case <-tick.C:
			case <-deadline:
				return false // B missed that event; try another
			}
		}
		return true
	})
}

// replicaFixture is what the two-instance tests share: a product in the
// kettles category, and a product in teapots, a category outside it.
type replicaFixture struct {
	kettles, teapots Category
	kettle, teapot   *Product
	byKettles        string // the listing of kettles, by price
}

func newReplicaFixture(a *env) replicaFixture {
	a.t.Helper()
	var f replicaFixture
	f.kettles = a.newCategory("Kettles", uniqueSlug("kettles"), "", 0)
	f.teapots = a.newCategory("Teapots", uniqueSlug("teapots"), "", 1)
	f.kettle = a.createProduct("KETTLE-1", 3000, 10, f.kettles.ID)
	f.teapot = a.createProduct("TEAPOT-1", 4000, 10, f.teapots.ID)
	f.byKettles = "sort=price&category=" + f.kettles.Slug
	return f
}

// checkAvailabilityFresh: after a hold through A's internal API, A answers
// the new availability (and ETag) on its very next read, and B within a
// second (freshFor; the deadline here is looser, for a busy machine).
func checkAvailabilityFresh(t *testing.T, a, b *env, f replicaFixture) {
	t.Helper()
	for _, e := range []*env{a, b} {
		for range 2 {
			e.readProduct(f.kettle.ID, "")
			e.listPage("", f.byKettles)
		}
	}
	before := a.getProduct(f.kettle.ID, "").header.Get("ETag")
	a.holdStock("replica-r1", f.kettle.ID, 3)
	shows := func(e *env) (string, bool) {
		r := e.getProduct(f.kettle.ID, "")
		expect(t, r, http.StatusOK, "")
		var got Product
		r.json(t, &got)
		_, listed := listedIDs(e, f.byKettles)
		return fmt.Sprintf("available %d, ETag %s (was %s), listed available %d", got.Available,
				r.header.Get("ETag"), before, listed[f.kettle.ID].Available),
			got.Available == 7 && r.header.Get("ETag") != before && listed[f.kettle.ID].Available == 7
	}
	if got, ok := shows(a); !ok {
		t.Errorf("A after the hold: %s; want available 7 and a new ETag", got)
	}
	eventually(t, 5*time.Second, "B shows the hold", func() bool { _, ok := shows(b); return ok })
}

// TestCacheReplicasFollowEvents: two instances, each with its own in-process
// cache, learn of each other's writes from the catalog.*.updated events: a
// price change on A, and a category move on A, show on B within seconds.
func TestCacheReplicasFollowEvents(t *testing.T) {
	t.Parallel()
	a, b := cacheReplicas(t, nil)
	f := newReplicaFixture(a)
	following(t, a, b)

	// Both caches are warm, and B's answers come from its cache.
	for range 2 {
		a.readProduct(f.kettle.ID, "")
		a.listPage("", f.byKettles)
	}
	sneaked := servedFromCache(t, b, b, f.kettle.ID, f.byKettles)

	expect(t, a.patchProduct(f.kettle.ID, priceBody(3500)), http.StatusOK, "")
	if got := a.readProduct(f.kettle.ID, "").Price.Amount; got != 3500 {
		t.Errorf("A shows price %d after its own change", got)
	}
	eventually(t, 5*time.Second, "B shows A's new price by id and in the listing", func() bool {
		p := b.readProduct(f.kettle.ID, "")
		_, listed := listedIDs(b, f.byKettles)
		return p.Price.Amount == 3500 && p.Description == sneaked &&
			listed[f.kettle.ID].Price.Amount == 3500
	})

	// A moves teapots under kettles: B's listing of kettles, cached, follows.
	for range 2 {
		if ids, _ := listedIDs(b, f.byKettles); !slices.Equal(ids, []string{f.kettle.ID}) {
			t.Fatalf("B lists %v in kettles before the move", ids)
		}
	}
	move := a.patchCategory(f.teapots.ID, map[string]any{"parent_id": f.kettles.ID})
	expect(t, move, http.StatusOK, "")
	want := []string{f.kettle.ID, f.teapot.ID}
	if ids, _ := listedIDs(a, f.byKettles); !slices.Equal(ids, want) {
		t.Errorf("A lists %v in kettles after the move, want %v", ids, want)
	}
	eventually(t, 5*time.Second, "B lists the moved category's product", func() bool {
		ids, _ := listedIDs(b, f.byKettles)
		return slices.Equal(ids, want)
	})

	checkAvailabilityFresh(t, a, b, f)
}

// TestCacheReplicasShareRedis: two instances sharing a Redis cache: what A
// caches B reads, and what A changes B sees on its next read, with no wait.
func TestCacheReplicasShareRedis(t *testing.T) {
	t.Parallel()
	redisURL := testkit.Need(t, redisURLEnv, "a Redis to share")
	a, b := cacheReplicas(t, func(c *Config) { c.RedisURL = redisURL })
	f := newReplicaFixture(a)

	// A fills the shared cache; B reads from it. (Listings are not checked
	// this way: their generation counter is shared by every test on this
	// Redis server, and any of them may bump it.)
	sneaked := servedFromCache(t, a, b, f.kettle.ID, "")

	expect(t, a.patchProduct(f.kettle.ID, priceBody(3500)), http.StatusOK, "")
	if p := b.readProduct(f.kettle.ID, ""); p.Price.Amount != 3500 || p.Description != sneaked {
		t.Errorf("B's next read: price %d, description %q; want 3500, %q",
			p.Price.Amount, p.Description, sneaked)
	}
	if _, listed := listedIDs(b, f.byKettles); listed[f.kettle.ID].Price.Amount != 3500 {
		t.Errorf("B's next listing shows %+v", listed[f.kettle.ID])
	}

	for range 2 {
		if ids, _ := listedIDs(b, f.byKettles); !slices.Equal(ids, []string{f.kettle.ID}) {
			t.Fatalf("B lists %v in kettles before the move", ids)
		}
	}
	move := a.patchCategory(f.teapots.ID, map[string]any{"parent_id": f.kettles.ID})
	expect(t, move, http.StatusOK, "")
	if ids, _ := listedIDs(b, f.byKettles); !slices.Equal(ids, []string{f.kettle.ID, f.teapot.ID}) {
		t.Errorf("B's next listing of kettles after the move: %v", ids)
	}

	checkAvailabilityFresh(t, a, b, f)
}
