package sqldb

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds each SQLite pool's statement cache. The services'
// statements are a few dozen texts, and the listings' filters and IN lists
// of varying length make a few hundred more at most.
const maxCachedStmts = 256

// stmtCache keeps a pool's prepared statements by their SQL, so that a
// statement run again is not parsed and planned again: database/sql
// prepares a *sql.Stmt on each connection of the pool the first time it runs
// there, and keeps it for the connection's life. SQLite uses it; pgx caches
// prepared statements on each PostgreSQL connection itself
// (QueryExecModeCacheStatement, its default, which Open keeps).
//
// A statement is prepared on the pool, which needs a free connection of it:
// inside a transaction on SQLite's single write connection that would wait
// forever, so a transaction's first run of a statement goes unprepared and
// the statement is prepared once the transaction has ended (see missed).
type stmtCache struct {
	pool *sql.DB
	max  int

	mu    sync.Mutex
	stmts map[string]*cachedStmt
}

// cachedStmt is a prepared statement and the number of calls using it. A
// statement evicted while in use is closed by its last user; rows already
// open keep it alive (database/sql closes it after them).
type cachedStmt struct {
	stmt    *sql.Stmt
	users   int
	evicted bool
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, max: maxCachedStmts, stmts: map[string]*cachedStmt{}}
}

// get returns query's statement, counted as in use until put; nil when it is
// not cached.
func (c *stmtCache) get(query string) *cachedStmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stmts[query]
	if s != nil {
		s.users++
	}
	return s
}

// acquire returns query's statement, preparing it on the pool when it is not
// cached yet, counted as in use until put.
func (c *stmtCache) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	if s := c.get(query); s != nil {
		return s, nil
	}
	stmt, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.stmts[query]; s != nil { // another call prepared it meanwhile
		s.users++
		_ = stmt.Close()
		return s, nil
	}
	if len(c.stmts) >= c.max {
		c.evictLocked()
	}
	s := &cachedStmt{stmt: stmt, users: 1}
	c.stmts[query] = s
	return s, nil
}

// prepare caches query's statement, for a statement a transaction ran
// unprepared. An error leaves it unprepared: the next run tries again.
func (c *stmtCache) prepare(ctx context.Context, query string) {
	if s, err := c.acquire(ctx, query); err == nil {
		c.put(s)
	}
}

// put ends a use of s.
func (c *stmtCache) put(s *cachedStmt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.users--
	if s.evicted && s.users == 0 {
		_ = s.stmt.Close()
	}
}

// evictLocked drops one statement, whichever the map yields first: a cache
// this full holds mostly one-off texts.
func (c *stmtCache) evictLocked() {
	for q, s := range c.stmts {
		delete(c.stmts, q)
		s.evicted = true
		if s.users == 0 {
			_ = s.stmt.Close()
		}
		return
	}
}

// len is the number of cached statements.
func (c *stmtCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		delete(c.stmts, q)
		_ = s.stmt.Close()
	}
}

// query runs a query through the cache.
func (c *stmtCache) query(ctx context.Context, query string, args []any) (*sql.Rows, error) {
	s, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	defer c.put(s)
	return s.stmt.QueryContext(ctx, args...)
}

// queryRow runs a query of at most one row through the cache.
func (c *stmtCache) queryRow(ctx context.Context, query string, args []any) *sql.Row {
	s, err := c.acquire(ctx, query)
	if err != nil {
		// An error in a *sql.Row: the pool's own QueryRowContext reports it
		// again, from Scan.
		return c.pool.QueryRowContext(ctx, query, args...)
	}
	defer c.put(s)
	return s.stmt.QueryRowContext(ctx, args...)
}

// exec runs a statement through the cache.
func (c *stmtCache) exec(ctx context.Context, query string, args []any) (sql.Result, error) {
	s, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	defer c.put(s)
	return s.stmt.ExecContext(ctx, args...)
}
