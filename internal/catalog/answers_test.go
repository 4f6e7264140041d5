package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/testkit"
	"emporium/internal/platform/web"
)

// encoded is v as web.JSON writes it.
func encoded(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAnswersAreWhatWebJSONWrites: a rendered product and page are byte for
// byte what encoding the products would write, with their availability
// changed in place — also when an attribute is named "available" or a
// description holds `"available":`.
func TestAnswersAreWhatWebJSONWrites(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123000, time.UTC)
	ps := []*Product{
		{ID: "p1", SKU: "A-1", Name: "Kettle <&>", Slug: "kettle", Description: `says "available":7, ünïcode`,
			Price: Money{Amount: 1999, Currency: "USD"}, CategoryIDs: []string{"c1"},
			Attributes: map[string]string{"available": "soon", "colour": "red"}, Images: []string{},
			Status: StatusActive, Available: 12, CreatedAt: at, UpdatedAt: at, Version: 3},
		{ID: "p2", SKU: "B-2", Name: "Teapot", Slug: "teapot", Price: Money{Amount: 5, Currency: "USD"},
			CategoryIDs: []string{}, Attributes: map[string]string{}, Images: []string{"https://x.test/a.png"},
			Status: StatusDraft, Available: 0, CreatedAt: at, UpdatedAt: at, Version: 1},
	}
	for _, p := range ps {
		it, err := newItem(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, avail := range []int64{p.Available, 0, 1234567} {
			it.available = avail
			a := productAnswer(it, p.Status, at)
			want := *p
			want.Available = avail
			if got, w := a.body, encoded(t, &want); !bytes.Equal(got, w) {
				t.Errorf("product %s, available %d:\n got %s\nwant %s", p.ID, avail, got, w)
			}
			if a.etag != want.ETag() {
				t.Errorf("product %s: ETag %s, want %s", p.ID, a.etag, want.ETag())
			}
		}
	}
	for _, next := range []string{"", "eyJpZCI6InAyIn0"} {
		a, err := newPageAnswer(ps, next, 0, at, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := encoded(t, web.List[*Product]{Items: ps, NextCursor: next}); !bytes.Equal(a.body, want) {
			t.Errorf("page, next %q:\n got %s\nwant %s", next, a.body, want)
		}
	}
	var set []*answer
	for _, p := range ps {
		it, err := newItem(p)
		if err != nil {
			t.Fatal(err)
		}
		set = append(set, productAnswer(it, p.Status, at))
	}
	for n := range len(set) + 1 {
		want := encoded(t, web.List[*Product]{Items: append([]*Product{}, ps[:n]...)})
		if got := setAnswer(set[:n], false); !bytes.Equal(got, want) {
			t.Errorf("set of %d:\n got %s\nwant %s", n, got, want)
		}
		sums := []ProductSummary{}
		for _, p := range ps[:n] {
			sums = append(sums, p.Summary())
		}
		want = encoded(t, web.List[ProductSummary]{Items: sums})
		if got := setAnswer(set[:n], true); !bytes.Equal(got, want) {
			t.Errorf("summaries of %d:\n got %s\nwant %s", n, got, want)
		}
	}
	// A summary's availability is the one set in place.
	set[0].items[0].available = 42
	if got := setAnswer(set[:1], true); !bytes.Contains(got, []byte(`"status":"active","available":42}`)) {
		t.Errorf("summary with available 42: %s", got)
	}
	a, err := newPageAnswer([]*Product{}, "", 0, at, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := encoded(t, web.List[*Product]{Items: []*Product{}}); !bytes.Equal(a.body, want) {
		t.Errorf("empty page: %s, want %s", a.body, want)
	}
}

// TestAvailabilityLagsAtMostFreshFor: with an in-process cache, a product's
// answer and a page's are served as rendered for freshFor: a stock change
// that did not go through this instance (another replica's) shows once
// freshFor has passed, and not before; one that went through it, and any
// edit, show at once.
func TestAvailabilityLagsAtMostFreshFor(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		clk := testkit.NewClock()
		db, err := sqldb.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx, outbox.Schema, inbox.Schema, Schema); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.now = clk.Now
		svc, err := New(ctx, db, cfg, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.CreateProduct(ctx, CreateProductRequest{SKU: "LAG-1", Name: "Lagging kettle",
			Price: Money{Amount: 1000, Currency: "USD"}, Status: StatusActive})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Adjust(ctx, p.ID, 5, "test"); err != nil {
			t.Fatal(err)
		}
		q := Query{Sort: "price", Status: StatusActive, Limit: 20}
		read := func() (product, page Product, etag string) {
			t.Helper()
			// The internal look-up from the cache answers what a product read does
			// (asked first, so that it is the one to recheck or render the answer).
			body, err := svc.productsAnswer(ctx, []string{"no-such-product", p.ID}, false)
			if err != nil {
				t.Fatal(err)
			}
			var set web.List[Product]
			if err := json.Unmarshal(body, &set); err != nil || len(set.Items) != 1 {
				t.Fatalf("set %s: %v", body, err)
			}
			a, err := svc.productAnswer(ctx, p.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(a.body, &product); err != nil {
				t.Fatal(err)
			}
			if got := set.Items[0]; got.Available != product.Available || got.Price != product.Price {
				t.Errorf("look-up: available %d price %d, product read: available %d price %d",
					got.Available, got.Price.Amount, product.Available, product.Price.Amount)
			}
			pa, err := svc.listAnswer(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var list web.List[Product]
			if err := json.Unmarshal(pa.body, &list); err != nil || len(list.Items) != 1 {
				t.Fatalf("page %s: %v", pa.body, err)
			}
			return product, list.Items[0], a.etag
		}
		check := func(when string, wantAvailable, wantPrice int64, wantETag string) {
			t.Helper()
			product, page, etag := read()
			if product.Available != wantAvailable || page.Available != wantAvailable || etag != wantETag ||
				product.Price.Amount != wantPrice || page.Price.Amount != wantPrice {
				t.Errorf("%s: product available %d price %d ETag %s, page available %d price %d; "+
					"want available %d, price %d, ETag %s", when, product.Available, product.Price.Amount, etag,
					page.Available, page.Price.Amount, wantAvailable, wantPrice, wantETag)
			}
		}
		check("first read", 5, 1000, `"1-5"`)

		// Another replica takes stock: this instance serves what it rendered
		// until freshFor has passed.
		_, err = db.ExecContext(ctx, "UPDATE inventory SET reserved = 2 WHERE product_id = $1", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(freshFor - time.Millisecond)
		check("just inside freshFor", 5, 1000, `"1-5"`)
		clk.Advance(time.Millisecond)
		check("after freshFor", 3, 1000, `"1-3"`)

		// A change through this instance shows at once, stock or edit.
		if _, err := svc.Adjust(ctx, p.ID, 4, "test"); err != nil {
			t.Fatal(err)
		}
		check("after a stock change here", 7, 1000, `"1-7"`)
		_, err = svc.UpdateProduct(ctx, p.ID, "", UpdateProductRequest{
			Price: web.Optional[Money]{Set: true, Value: Money{Amount: 1500, Currency: "USD"}}})
		if err != nil {
			t.Fatal(err)
		}
		check("after an edit here", 7, 1500, `"2-7"`)
	})
}

// BenchmarkProductAnswer serves a cached product by id from the service,
// as rendered bytes (what the handler writes) and, for comparison, as the
// decoded *Product that the handler used to encode again.
func BenchmarkProductAnswer(b *testing.B) {
	ctx := context.Background()
	svc := bareService(b, sqliteURL(b))
	p, err := svc.CreateProduct(ctx, CreateProductRequest{SKU: "BENCH-1", Name: "Bench kettle",
		Description: "A kettle to measure reads with.", Price: Money{Amount: 1000, Currency: "USD"},
		Attributes: map[string]string{"colour": "red", "volume": "1.7 l"}, Status: StatusActive})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("rendered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := svc.productAnswer(ctx, p.ID, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoded-and-encoded", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			got, err := svc.Product(ctx, p.ID, false)
			if err != nil {
				b.Fatal(err)
			}
			buf.Reset()
			if err := json.NewEncoder(&buf).Encode(got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkProducts reads 100 products by id, as the cart and orders ask
// for them (GET /internal/products), in the order of the ids.
func BenchmarkProducts(b *testing.B) {
	ctx := context.Background()
	svc := bareService(b, sqliteURL(b))
	db := svc.db
	res, err := svc.Import(ctx, scaleCatalog(100), nil)
	if err != nil || res.Imported != 100 {
		b.Fatalf("import: %d, %v", res.Imported, err)
	}
	ps, _, err := runList(ctx, db, Query{Sort: "price", Status: "any", Limit: 100}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[len(ps)-1-i] = p.ID
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := svc.Products(ctx, ids)
		if err != nil || len(got) != len(ids) || got[0].ID != ids[0] {
			b.Fatalf("products: %d, %v", len(got), err)
		}
	}
}
