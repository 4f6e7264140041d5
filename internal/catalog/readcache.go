package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"emporium/internal/platform/cache"
	"emporium/internal/platform/sqldb"
)

// readCache serves product reads from a cache: product bodies by id, and
// listing pages by query within a generation that every product or category
// write bumps. Availability is never cached — stock moves with every
// reservation — so it is read fresh, in one query per answer. A cache that
// fails is a miss: reads go to the database.
type readCache struct {
	store cache.Store
	db    *sqldb.DB
	ttl   time.Duration
	log   *slog.Logger
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

func (c *readCache) product(ctx context.Context, id string) (*Product, error) {
	raw, err := cache.GetOrLoad(ctx, c.store, "catalog:product:"+id, c.ttl, func(ctx context.Context) ([]byte, error) {
		p, err := productByID(ctx, c.db, id)
		if err != nil {
			return nil, err
		}
		return json.Marshal(cached{P: p, V: p.Version})
	})
	if err != nil {
		return nil, err
	}
	var cp cached
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, err
	}
	p := cp.product()
	if err := c.withAvailability(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// list answers q. Queries that filter on stock are not cached.
func (c *readCache) list(ctx context.Context, q Query) ([]*Product, string, error) {
	if q.InStock != nil {
		return runList(ctx, c.db, q)
	}
	gen := c.store.Generation(ctx, listingNamespace)
	sum := sha256.Sum256([]byte(q.key()))
	key := "catalog:list:" + strconv.FormatUint(gen, 10) + ":" + hex.EncodeToString(sum[:16])
	raw, err := cache.GetOrLoad(ctx, c.store, key, c.ttl, func(ctx context.Context) ([]byte, error) {
		ps, next, err := runList(ctx, c.db, q)
		if err != nil {
			return nil, err
		}
		pg := page{Products: make([]cached, len(ps)), Next: next}
		for i, p := range ps {
			pg.Products[i] = cached{P: p, V: p.Version}
		}
		return json.Marshal(pg)
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
	if err := c.withAvailability(ctx, ps...); err != nil {
		return nil, "", err
	}
	return ps, pg.Next, nil
}

// runList runs q against the database and cuts the page.
func runList(ctx context.Context, db *sqldb.DB, q Query) ([]*Product, string, error) {
	ps, err := listProducts(ctx, db, q)
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

// withAvailability sets each product's availability from the inventory.
func (c *readCache) withAvailability(ctx context.Context, ps ...*Product) error {
	if len(ps) == 0 {
		return nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	rows, err := c.db.QueryContext(ctx, "SELECT product_id, on_hand - reserved FROM inventory WHERE product_id IN ("+
		placeholders(1, len(ids))+")", anys(ids)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	avail := make(map[string]int64, len(ids))
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		avail[id] = n
	}
	for _, p := range ps {
		p.Available = avail[p.ID]
	}
	return rows.Err()
}

// invalidate drops cached copies of the products and every cached listing.
func (c *readCache) invalidate(ctx context.Context, productIDs ...string) {
	keys := make([]string, len(productIDs))
	for i, id := range productIDs {
		keys[i] = "catalog:product:" + id
	}
	if len(keys) > 0 {
		c.store.Delete(ctx, keys...)
	}
	c.store.Bump(ctx, listingNamespace)
}
