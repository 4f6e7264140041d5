package catalog

import (
	"context"
	"slices"
	"testing"

	"emporium/internal/platform/sqldb"
)

// A leaf category's listing reads its links' copies of the products' sort
// keys: a product's new price, name or status shows in the leaf's order at
// once, in both directions of every sort, on both databases.
func TestLeafListingFollowsProductWrites(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		svc := bareService(t, dbURL)
		ctx := context.Background()
		f := ImportFile{Categories: []ImportCategory{{Slug: "mugs", Name: "Mugs"}, {Slug: "plates", Name: "Plates"}}}
		for i, name := range []string{"Amber mug", "Blue mug", "Cedar mug"} {
			f.Products = append(f.Products, ImportProduct{SKU: "MUG-" + name[:1], Name: name,
				Price: int64(100 * (i + 1)), Categories: []string{"mugs"}, Status: StatusActive})
		}
		f.Products = append(f.Products, ImportProduct{SKU: "PLATE", Name: "Plate", Price: 50,
			Categories: []string{"plates"}, Status: StatusActive})
		if _, err := svc.Import(ctx, f, nil); err != nil {
			t.Fatal(err)
		}
		names := func(sort string) []string {
			t.Helper()
			q := Query{Category: "mugs", Sort: sort, Status: StatusActive, Limit: 20}
			how, err := listWay(ctx, svc.db, q, nil)
			if err != nil || how.way != categoryRange {
				t.Fatalf("listWay = %+v, %v; want the leaf's links", how, err)
			}
			ps, err := listProducts(ctx, svc.db, q, nil)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range ps {
				out = append(out, p.Name)
			}
			return out
		}
		want := func(sort string, w ...string) {
			t.Helper()
			if got := names(sort); !slices.Equal(got, w) {
				t.Errorf("sort %s: %v, want %v", sort, got, w)
			}
		}
		want("price", "Amber mug", "Blue mug", "Cedar mug")
		want("-price", "Cedar mug", "Blue mug", "Amber mug")
		update := func(sku string, change func(p *Product)) {
			t.Helper()
			err := svc.db.Tx(ctx, func(tx *sqldb.Tx) error {
				var id string
				if err := tx.QueryRowContext(ctx, "SELECT id FROM products WHERE sku = $1", sku).Scan(&id); err != nil {
					return err
				}
				ps, err := productsByIDs(ctx, tx, []string{id})
				if err != nil {
					return err
				}
				p := ps[0]
				change(p)
				p.Version++
				return updateProduct(ctx, tx, p)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		update("MUG-A", func(p *Product) { p.Price.Amount = 900 })
		want("price", "Blue mug", "Cedar mug", "Amber mug")
		want("-price", "Amber mug", "Cedar mug", "Blue mug")
		update("MUG-C", func(p *Product) { p.Name = "Aardvark mug" })
		want("name", "Aardvark mug", "Amber mug", "Blue mug")
		update("MUG-B", func(p *Product) { p.Status = StatusArchived })
		want("name", "Aardvark mug", "Amber mug")
		update("MUG-A", func(p *Product) { p.CategoryIDs = nil })
		want("name", "Aardvark mug")
	})
}

// A link written without its product's sort keys — by a replica of the
// version before migration 5 — hides the product from the leaf's listing
// until the sweeper's fillLinkKeys gives it the keys.
func TestSweeperFillsLinkKeys(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		svc := bareService(t, dbURL)
		ctx := context.Background()
		f := ImportFile{Categories: []ImportCategory{{Slug: "mugs", Name: "Mugs"}},
			Products: []ImportProduct{{SKU: "MUG-1", Name: "Old mug", Price: 100, Categories: []string{"mugs"},
				Status: StatusActive}}}
		if _, err := svc.Import(ctx, f, nil); err != nil {
			t.Fatal(err)
		}
		// As the older version wrote it: the link alone.
		_, err := svc.db.ExecContext(ctx, `UPDATE product_categories
			SET status = NULL, created_at = NULL, price_amount = NULL, sort_name = NULL`)
		if err != nil {
			t.Fatal(err)
		}
		count := func() int {
			t.Helper()
			ps, err := listProducts(ctx, svc.db, Query{Category: "mugs", Sort: "price", Status: StatusActive,
				Limit: 20}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return len(ps)
		}
		if n := count(); n != 0 {
			t.Fatalf("%d products listed from links without keys; the test assumes none", n)
		}
		if err := svc.fillLinkKeys(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d products listed after the keys were filled in; want 1", n)
		}
	})
}
