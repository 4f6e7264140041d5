package cart

import (
	"context"
	"sync"

	"emporium/internal/platform/sqldb"
)

// readCacheEntries bounds the carts a readCache keeps; when it is full it
// starts again empty.
const readCacheEntries = 4096

// readCache keeps customers' carts as last read from SQLite, each with the
// database handle's write count read before it (sqldb.DB.Writes): while the
// count stays the same nothing was written — this process is the database's
// only writer — and a read of the cart answers from memory instead of
// running its query. Any write to the cart database, of any cart, makes
// every entry old, so a cart is never answered older than the database;
// under a steady stream of writes the cache only misses. On PostgreSQL,
// where other replicas write, there is none (a nil *readCache reads through).
type readCache struct {
	db      *sqldb.DB
	mu      sync.Mutex
	entries map[string]cachedCart
}

type cachedCart struct {
	writes uint64
	cart   *cart
}

// newReadCache returns a cache for db, or nil when db is not SQLite.
func newReadCache(db *sqldb.DB) *readCache {
	if db.Dialect() != sqldb.SQLite {
		return nil
	}
	return &readCache{db: db, entries: make(map[string]cachedCart)}
}

// customerCart is customerCart, from memory when nothing was written since
// the cart was last read. The cart returned is the caller's own.
func (rc *readCache) customerCart(ctx context.Context, db querier, customerID string) (*cart, error) {
	if rc == nil {
		return customerCart(ctx, db, customerID)
	}
	writes := rc.db.Writes() // before reading: a write after it makes the entry old
	rc.mu.Lock()
	e, ok := rc.entries[customerID]
	rc.mu.Unlock()
	if ok && e.writes == writes {
		return e.cart.clone(), nil
	}
	c, err := customerCart(ctx, db, customerID)
	if err != nil || c == nil {
		return c, err
	}
	rc.mu.Lock()
	if len(rc.entries) >= readCacheEntries {
		clear(rc.entries)
	}
	rc.entries[customerID] = cachedCart{writes: writes, cart: c.clone()}
	rc.mu.Unlock()
	return c, nil
}
