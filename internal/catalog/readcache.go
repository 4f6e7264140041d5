package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"emporium/internal/platform/cache"
	"emporium/internal/platform/sqldb"
)

// readCache serves product reads from a cache: answers ready to write, in
// the process (answers.go), in front of a store of product bodies by id, and
// listing pages by query within a generation that every product or category
// write bumps. The store never holds availability — stock moves with every
// reservation — so it is read, in one query per answer, together with each
// product's stored version, whenever an answer is made or rechecked (at most
// freshFor after the last check, see answers.go). A cached body whose version is not the
// stored one (a load that read the row before a write stored it just after
// the write's invalidation, or another replica wrote and its event has not
// arrived yet) is not served: the product, or the whole page that holds it,
// is read from the database again and cached again. (A page can still lack
// a product that another replica's write has just moved into it, until that
// replica's event arrives.) A cache that fails is a miss: reads go to the
// database.
type readCache struct {
	store cache.Store
	db    *sqldb.DB
	ttl   time.Duration
	log   *slog.Logger
	now   func() time.Time

	// answers are the rendered answers. Served as they are for freshFor
	// when the store is in-process (shared is false); rechecked against
	// the database on every read when it is shared, since other replicas'
	// writes reach a shared store at once.
	answers *answers
	shared  bool
	// stock counts the stock changes made through this instance: a page
	// rendered before one is rechecked before it is served again.
	stock atomic.Uint64
	// sizes remembers the categories' sizes that choose SQLite listings'
	// access paths.
	sizes *categorySizes
}

// fresh reports whether a may be served without asking the database.
func (c *readCache) fresh(a *answer, now time.Time) bool {
	age := now.Sub(a.checked)
	return !c.shared && age >= 0 && age < freshFor
}

// productAnswer answers a product by id.
func (c *readCache) productAnswer(ctx context.Context, id string) (*answer, error) {
	now := c.now()
	a := c.answers.product(id)
	if a != nil && c.fresh(a, now) {
		return a, nil
	}
	epoch := c.answers.currentEpoch()
	if a != nil {
		items, ok, err := c.recheck(ctx, a.items)
		if err != nil {
			return nil, err
		}
		if ok {
			a = productAnswer(items[0], a.status, now)
			c.answers.putProduct(id, a, epoch)
			return a, nil
		}
	}
	p, err := c.product(ctx, id)
	if err != nil {
		return nil, err
	}
	it, err := newItem(p)
	if err != nil {
		return nil, err
	}
	a = productAnswer(it, p.Status, now)
	c.answers.putProduct(id, a, epoch)
	return a, nil
}

// productsAnswers answers the known products among ids (any status, no
// id twice), in the order of ids; unknown ids are left out. Answers fresh
// in the process are served as they are, the others are rechecked in one
// query, and those that changed or were never rendered are read in one more.
func (c *readCache) productsAnswers(ctx context.Context, ids []string) ([]*answer, error) {
	now := c.now()
	epoch := c.answers.currentEpoch()
	got := c.answers.productsOf(ids)
	var recheck []int // positions of answers to recheck
	var load []string // ids to read
	for i, a := range got {
		switch {
		case a == nil:
			load = append(load, ids[i])
		case !c.fresh(a, now):
			recheck = append(recheck, i)
		}
	}
	if len(recheck) > 0 {
		rids := make([]string, len(recheck))
		for j, i := range recheck {
			rids[j] = ids[i]
		}
		states, err := productStates(ctx, c.db, rids)
		if err != nil {
			return nil, err
		}
		for _, i := range recheck {
			a := got[i]
			st, ok := states[ids[i]]
			if !ok || st.version != a.items[0].version {
				got[i] = nil
				load = append(load, ids[i])
				continue
			}
			it := a.items[0]
			it.available = st.available
			got[i] = productAnswer(it, a.status, now)
			c.answers.putProduct(ids[i], got[i], epoch)
		}
	}
	if len(load) > 0 {
		ps, err := productsByIDs(ctx, c.db, load)
		if err != nil {
			return nil, err
		}
		loaded := make(map[string]*answer, len(ps))
		for _, p := range ps {
			it, err := newItem(p)
			if err != nil {
				return nil, err
			}
			a := productAnswer(it, p.Status, now)
			loaded[p.ID] = a
			c.answers.putProduct(p.ID, a, epoch)
		}
		for i, a := range got {
			if a == nil {
				got[i] = loaded[ids[i]]
			}
		}
	}
	return slices.DeleteFunc(got, func(a *answer) bool { return a == nil }), nil
}

// pageAnswer answers a listing query. Queries that filter on stock are
// rendered afresh every time.
func (c *readCache) pageAnswer(ctx context.Context, q Query) (*answer, error) {
	now := c.now()
	if q.InStock != nil {
		ps, next, err := runList(ctx, c.db, q, c.sizes)
		if err != nil {
			return nil, err
		}
		return newPageAnswer(ps, next, 0, now, 0)
	}
	stock := c.stock.Load()
	var gen uint64
	if c.shared {
		gen = c.store.Generation(ctx, listingNamespace)
	}
	key := q.key()
	a := c.answers.page(key)
	if a != nil && a.gen == gen && a.stock == stock && c.fresh(a, now) {
		return a, nil
	}
	epoch := c.answers.currentEpoch()
	if a != nil && a.gen == gen {
		items, ok, err := c.recheck(ctx, a.items)
		if err != nil {
			return nil, err
		}
		if ok {
			a = pageAnswer(items, a.next, gen, now, stock)
			c.answers.putPage(key, a, epoch)
			return a, nil
		}
	}
	ps, next, err := c.list(ctx, q)
	if err != nil {
		return nil, err
	}
	if a, err = newPageAnswer(ps, next, gen, now, stock); err != nil {
		return nil, err
	}
	c.answers.putPage(key, a, epoch)
	return a, nil
}

// recheck reads the versions and availability of an answer's products. It
// returns the items with their availability now, or false when one of them
// changed or is gone: the answer must be made again.
func (c *readCache) recheck(ctx context.Context, items []item) ([]item, bool, error) {
	if len(items) == 0 {
		return items, true, nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	now, err := productStates(ctx, c.db, ids)
	if err != nil {
		return nil, false, err
	}
	out := make([]item, len(items))
	for i, it := range items {
		st, ok := now[it.id]
		if !ok || st.version != it.version {
			return nil, false, nil
		}
		it.available = st.available
		out[i] = it
	}
	return out, true, nil
}

// stockChanged drops the answers of products whose stock changed through
// this instance, and has every page rechecked before it is served again.
func (c *readCache) stockChanged(productIDs ...string) {
	c.answers.dropProducts(productIDs...)
	c.stock.Add(1)
}

// listingNamespace is the generation every cached listing page belongs to.
const listingNamespace = "catalog:listings"

// cached is a product as the cache keeps it: with its version, which the
// API does not show but the ETag needs.
type cached struct {
	P *Product `json:"p"`
	V int64    `json:"v"`
}

func (c cached) product() *Product {
	c.P.Version = c.V
	return c.P
}

// page is a cached listing page.
type page struct {
	Products []cached `json:"products"`
	Next     string   `json:"next"`
}

// productKey is where a product's body is cached.
func productKey(id string) string { return "catalog:product:" + id }

func (c *readCache) product(ctx context.Context, id string) (*Product, error) {
	load := func(ctx context.Context) ([]byte, error) {
		p, err := productByID(ctx, c.db, id)
		if err != nil {
			return nil, err
		}
		return json.Marshal(cached{P: p, V: p.Version})
	}
	raw, err := cache.GetOrLoad(ctx, c.store, productKey(id), c.ttl, load)
	if err != nil {
		return nil, err
	}
	var cp cached
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, err
	}
	p := cp.product()
	stale, err := c.refresh(ctx, p)
	if err != nil {
		return nil, err
	}
	if !stale {
		return p, nil
	}
	if p, err = productByID(ctx, c.db, id); err != nil {
		return nil, err
	}
	if raw, err := json.Marshal(cached{P: p, V: p.Version}); err == nil {
		c.store.Set(ctx, productKey(id), raw, c.ttl)
	}
	return p, nil
}

// listKey is where the page that answers q is cached, in the listings'
// current generation.
func (c *readCache) listKey(ctx context.Context, q Query) string {
	gen := c.store.Generation(ctx, listingNamespace)
	sum := sha256.Sum256([]byte(q.key()))
	return "catalog:list:" + strconv.FormatUint(gen, 10) + ":" + hex.EncodeToString(sum[:16])
}

// list answers q. Queries that filter on stock are not cached.
func (c *readCache) list(ctx context.Context, q Query) ([]*Product, string, error) {
	if q.InStock != nil {
		return runList(ctx, c.db, q, c.sizes)
	}
	key := c.listKey(ctx, q)
	raw, err := cache.GetOrLoad(ctx, c.store, key, c.ttl, func(ctx context.Context) ([]byte, error) {
		ps, next, err := runList(ctx, c.db, q, c.sizes)
		if err != nil {
			return nil, err
		}
		return encodePage(ps, next)
	})
	if err != nil {
		return nil, "", err
	}
	var pg page
	if err := json.Unmarshal(raw, &pg); err != nil {
		return nil, "", err
	}
	ps := make([]*Product, len(pg.Products))
	for i, cp := range pg.Products {
		ps[i] = cp.product()
	}
	stale, err := c.refresh(ctx, ps...)
	if err != nil {
		return nil, "", err
	}
	if !stale {
		return ps, pg.Next, nil
	}
	// A product on the page changed since the page was loaded: what the
	// page holds, and in which order, may have changed with it.
	ps, next, err := runList(ctx, c.db, q, c.sizes)
	if err != nil {
		return nil, "", err
	}
	if raw, err := encodePage(ps, next); err == nil {
		c.store.Set(ctx, key, raw, c.ttl)
	}
	return ps, next, nil
}

// encodePage is a listing page as the cache keeps it.
func encodePage(ps []*Product, next string) ([]byte, error) {
	pg := page{Products: make([]cached, len(ps)), Next: next}
	for i, p := range ps {
		pg.Products[i] = cached{P: p, V: p.Version}
	}
	return json.Marshal(pg)
}

// runList runs q against the database and cuts the page.
func runList(ctx context.Context, db *sqldb.DB, q Query, sizes *categorySizes) ([]*Product, string, error) {
	ps, err := listProducts(ctx, db, q, sizes)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ps) > q.Limit {
		ps = ps[:q.Limit]
		next = cursorAfter(q.Sort, ps[len(ps)-1])
	}
	if ps == nil {
		ps = []*Product{}
	}
	return ps, next, nil
}

// refresh sets each product's availability from the inventory, and reports
// whether any of them is stale: its version is not the stored one (or it is
// no longer stored).
func (c *readCache) refresh(ctx context.Context, ps ...*Product) (stale bool, err error) {
	if len(ps) == 0 {
		return false, nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	now, err := productStates(ctx, c.db, ids)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		st, ok := now[p.ID]
		p.Available = st.available
		stale = stale || !ok || st.version != p.Version
	}
	return stale, nil
}

// invalidate drops cached copies of the products and every cached listing.
func (c *readCache) invalidate(ctx context.Context, productIDs ...string) {
	c.answers.invalidate(productIDs...)
	keys := make([]string, len(productIDs))
	for i, id := range productIDs {
		keys[i] = productKey(id)
	}
	if len(keys) > 0 {
		c.store.Delete(ctx, keys...)
	}
	c.store.Bump(ctx, listingNamespace)
}
