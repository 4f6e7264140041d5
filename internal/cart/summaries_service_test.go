package cart

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/sqldb/sqldbtest"
)

// A read asks the catalog, in one call, about the products whose kept
// summaries are too old (or were never kept), and only about them; when
// that call fails, the read is stale as it always was — every line as last
// stored, nothing available — even for the lines it kept fresh summaries of.
func TestReadAsksOnlyForWhatItLacks(t *testing.T) {
	e := start(t, sqldbtest.SQLiteURL(t), nil)
	clk := clock()
	svc, rec := e.proxied(clk)
	a, b, c := e.createProduct(100, 5), e.createProduct(200, 6), e.createProduct(300, 7)
	ctx := context.Background()
	ada, bob := customer("ada"), customer("bob")
	for _, p := range []testProduct{a, b, c} {
		if _, _, err := svc.AddItem(ctx, ada, AddItemRequest{ProductID: p.ID, Quantity: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Bob's add asks about a again, 600ms later: once a's first summary is
	// too old, its second is not yet.
	clk.Advance(600 * time.Millisecond)
	if _, _, err := svc.AddItem(ctx, bob, AddItemRequest{ProductID: a.ID, Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(summaryMaxAge - 500*time.Millisecond)
	before := len(rec.calls())
	cart, err := svc.Cart(ctx, ada)
	if err != nil {
		t.Fatal(err)
	}
	if cart.Stale || cart.Subtotal.Amount != 600 || cart.Items[0].Available != 5 ||
		cart.Items[2].Available != 7 {
		t.Errorf("cart %+v", cart)
	}
	calls := rec.calls()[before:]
	if len(calls) != 1 {
		t.Fatalf("the read made %d calls, want 1", len(calls))
	}
	asked := strings.Split(calls[0].Get("ids"), ",")
	slices.Sort(asked)
	want := []string{b.ID, c.ID}
	slices.Sort(want)
	if !slices.Equal(asked, want) {
		t.Errorf("the read asked about %v, want %v (b and c, not a)", asked, want)
	}

	// Again, later, with the catalog failing: a is kept fresh (bob's read
	// asked about it 500ms before), b and c are not.
	clk.Advance(600 * time.Millisecond)
	if _, err := svc.Cart(ctx, bob); err != nil {
		t.Fatal(err)
	}
	clk.Advance(500 * time.Millisecond)
	rec.failing.Store(true)
	before = len(rec.calls())
	cart, err = svc.Cart(ctx, ada)
	if err != nil {
		t.Fatal(err)
	}
	if !cart.Stale || cart.Subtotal.Amount != 600 {
		t.Errorf("read with the catalog failing: %+v, want stale", cart)
	}
	for _, it := range cart.Items {
		if it.Available != 0 {
			t.Errorf("stale line %+v: available %d, want 0", it, it.Available)
		}
	}
	for _, q := range rec.calls()[before:] {
		if strings.Contains(q.Get("ids"), a.ID) {
			t.Errorf("a stale read asked about %s, which it kept", q.Get("ids"))
		}
	}
}
