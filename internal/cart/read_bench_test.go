package cart

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// BenchmarkCartRead reads and renders a customer's cart of 10 lines on
// SQLite, its products' summaries all kept: the cart's own share of a cart
// read, without HTTP and without the catalog.
func BenchmarkCartRead(b *testing.B) {
	db := sqldbtest.SQLite(b, outbox.Schema, inbox.Schema, Schema)
	storeCart(b, db, "ada", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	clk := testkit.NewClock()
	cfg := testConfig()
	cfg.now = clk.Now
	svc, err := New(db, cfg, "http://127.0.0.1:1", "token", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 10)
	found := map[string]product{}
	for i := range ids {
		ids[i] = fmt.Sprintf("p%02d", i)
		found[ids[i]] = product{ID: ids[i], SKU: "SKU", Name: "Name", Price: Money{Amount: 100, Currency: "USD"},
			Status: "active", Available: 5}
	}
	svc.summaries.put(ids, found, clk.Now())
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour) // as a request's
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		c, err := svc.Cart(ctx, customer("ada"))
		if err != nil {
			b.Fatal(err)
		}
		if len(c.Items) != 10 || c.Stale {
			b.Fatalf("cart %+v", c)
		}
		if err := json.NewEncoder(io.Discard).Encode(c); err != nil {
			b.Fatal(err)
		}
	}
}
