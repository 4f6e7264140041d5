package cart

import (
	"context"
	"testing"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// On SQLite a customer's cart is answered from memory while nothing was
// written through the database's handle: a change made through another
// handle (which the cache cannot see, and which a shop never makes) does not
// show, and any write through the handle, to any cart, sends the next read
// to the database. Each answer is the caller's own copy.
func TestReadCache(t *testing.T) {
	ctx := context.Background()
	schemas := []sqldb.Schema{outbox.Schema, inbox.Schema, Schema}
	url := sqldbtest.SQLiteURL(t)
	open := func() *sqldb.DB {
		db, err := sqldb.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx, schemas...); err != nil {
			t.Fatal(err)
		}
		return db
	}
	db, other := open(), open()
	rc := newReadCache(db)
	if rc == nil {
		t.Fatal("no read cache on SQLite")
	}
	read := func() *cart {
		t.Helper()
		c, err := rc.customerCart(ctx, db, "ada")
		if err != nil || c == nil {
			t.Fatalf("read: %+v, %v", c, err)
		}
		return c
	}
	storeCart(t, db, "ada", 0, 1)
	if n := len(read().lines); n != 2 {
		t.Fatalf("%d lines, want 2", n)
	}
	storeCart(t, other, "ada", 0, 1, 2)
	if n := len(read().lines); n != 2 {
		t.Fatalf("%d lines after a write the handle did not make; want the 2 kept", n)
	}
	storeCart(t, db, "bob")
	c := read()
	if n := len(c.lines); n != 3 {
		t.Fatalf("%d lines after a write through the handle; want the 3 stored", n)
	}
	c.lines[0].quantity = 99
	c.lines = c.lines[:1]
	if c := read(); len(c.lines) != 3 || c.lines[0].quantity != 1 {
		t.Fatalf("a caller's change reached the cache: %+v", c.lines)
	}
	if c, err := rc.customerCart(ctx, db, "nobody"); err != nil || c != nil {
		t.Fatalf("a customer without a cart: %+v, %v", c, err)
	}
}

// PostgreSQL, which other replicas write, has no read cache.
func TestNoReadCacheOnPostgres(t *testing.T) {
	sqldbtest.Run(t, []sqldb.Schema{outbox.Schema, inbox.Schema, Schema}, func(t *testing.T, db *sqldb.DB) {
		if rc := newReadCache(db); (rc != nil) != (db.Dialect() == sqldb.SQLite) {
			t.Fatalf("read cache %v on %s", rc != nil, db.Dialect())
		}
	})
}
