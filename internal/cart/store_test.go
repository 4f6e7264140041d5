package cart

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// storeCart stores a customer's cart whose lines were added in the order of
// positions (not the order of their product ids).
func storeCart(t testing.TB, db *sqldb.DB, customerID string, positions ...int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := &cart{id: "cart-" + customerID, customerID: customerID, createdAt: now, updatedAt: now}
	err := db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := ensureCustomerCart(ctx, tx, c); err != nil {
			return err
		}
		for i, pos := range positions {
			l := line{productID: fmt.Sprintf("p%02d", i), quantity: 1, position: pos,
				seen: seen{sku: "SKU", name: "Name", price: Money{Amount: 100, Currency: "USD"}}}
			if err := upsertLine(ctx, tx, c.id, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A cart's lines are read in the order they were added, whatever the
// order of their product ids; a cart without lines has none.
func TestCartLinesInTheOrderAdded(t *testing.T) {
	sqldbtest.Run(t, []sqldb.Schema{outbox.Schema, inbox.Schema, Schema}, func(t *testing.T, db *sqldb.DB) {
		storeCart(t, db, "ada", 3, 0, 9, 1, 7, 2, 8, 4, 6, 5)
		storeCart(t, db, "bob")
		c, err := customerCart(context.Background(), db, "ada")
		if err != nil {
			t.Fatal(err)
		}
		var positions []int
		for _, l := range c.lines {
			positions = append(positions, l.position)
		}
		if !slices.Equal(positions, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
			t.Errorf("lines at positions %v, want in order", positions)
		}
		c, err = customerCart(context.Background(), db, "bob")
		if err != nil || c == nil || len(c.lines) != 0 {
			t.Errorf("empty cart: %+v, %v", c, err)
		}
	})
}

// BenchmarkCustomerCart reads a customer's cart of 10 lines from SQLite, as
// every cart read does.
func BenchmarkCustomerCart(b *testing.B) {
	db := sqldbtest.SQLite(b, outbox.Schema, inbox.Schema, Schema)
	storeCart(b, db, "ada", 3, 0, 9, 1, 7, 2, 8, 4, 6, 5)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if c, err := customerCart(ctx, db, "ada"); err != nil || len(c.lines) != 10 {
			b.Fatal(err)
		}
	}
}
