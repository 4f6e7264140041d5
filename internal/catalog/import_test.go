package catalog

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"emporium/internal/platform/app"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// flattenCategories returns every category of a tree by slug, with its
// parent's slug ("" for a root).
func flattenCategories(tree []*Category) map[string]string {
	out := map[string]string{}
	var walk func(parent string, cs []*Category)
	walk = func(parent string, cs []*Category) {
		for _, c := range cs {
			out[c.Slug] = parent
			walk(c.Slug, c.Children)
		}
	}
	walk("", tree)
	return out
}

// listAll pages through the public listing and returns every product.
func (e *env) listAll(query string) []*Product {
	e.t.Helper()
	var all []*Product
	cursor := ""
	for range 100 {
		path := "/api/v1/products?limit=100" + query
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := e.do("GET", path, e.adminToken(), nil)
		expect(e.t, r, http.StatusOK, "")
		var page struct {
			Items      []*Product `json:"items"`
			NextCursor string     `json:"next_cursor"`
		}
		r.json(e.t, &page)
		all = append(all, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			return all
		}
	}
	e.t.Fatal("more than 100 pages")
	return nil
}

// categoryTree reads the category tree through the API.
func (e *env) categoryTree() []*Category {
	e.t.Helper()
	r := e.do("GET", "/api/v1/categories", "", nil)
	expect(e.t, r, http.StatusOK, "")
	var tree struct {
		Items []*Category `json:"items"`
	}
	r.json(e.t, &tree)
	return tree.Items
}

func TestLoadDemo(t *testing.T) {
	t.Parallel()
	demo, err := ParseImport("demo_catalog.json", demoCatalog)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(demo.Products); n < 40 || n > 60 {
		t.Fatalf("the demo catalog has %d products, want about 50", n)
	}
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		ctx := context.Background()
		n, err := e.svc.LoadDemo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(demo.Products) {
			t.Errorf("LoadDemo = %d, want %d", n, len(demo.Products))
		}
		checkDemo(t, e, demo)

		// A second time, and into a catalog that has products, it does nothing.
		if n, err := e.svc.LoadDemo(ctx); n != 0 || err != nil {
			t.Errorf("LoadDemo again = %d, %v; want 0, nil", n, err)
		}
		checkDemo(t, e, demo)
	})
}

// TestLoadDemoTwoReplicasAtOnce: replicas that start together on an empty
// database both load the demo catalog without failing, and it is loaded once.
func TestLoadDemoTwoReplicasAtOnce(t *testing.T) {
	t.Parallel()
	demo, err := ParseImport("demo_catalog.json", demoCatalog)
	if err != nil {
		t.Fatal(err)
	}
	eachDB(t, func(t *testing.T, dbURL string) {
		natsURL, iss := newNATS(t), authtest.NewIssuer(t)
		rs := []*env{startOn(t, dbURL, natsURL, iss, nil), startOn(t, dbURL, natsURL, iss, nil)}
		loaded := make([]int, len(rs))
		errs := make([]error, len(rs))
		var wg sync.WaitGroup
		for i, e := range rs {
			wg.Go(func() { loaded[i], errs[i] = e.svc.LoadDemo(context.Background()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
		if got := loaded[0] + loaded[1]; got != len(demo.Products) {
			t.Errorf("the replicas loaded %v products, want %d in all", loaded, len(demo.Products))
		}
		checkDemo(t, rs[1], demo)
	})
}

// checkDemo checks that the catalog holds exactly the demo catalog.
func checkDemo(t *testing.T, e *env, demo ImportFile) {
	t.Helper()
	cats := flattenCategories(e.categoryTree())
	want := map[string]string{}
	for _, c := range demo.Categories {
		want[c.Slug] = c.Parent
	}
	if !reflect.DeepEqual(cats, want) {
		t.Errorf("categories (slug: parent) = %v, want %v", cats, want)
	}
	all, err := e.svc.Categories(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slugOf := map[string]string{}
	var walk func([]*Category)
	walk = func(cs []*Category) {
		for _, c := range cs {
			slugOf[c.ID] = c.Slug
			walk(c.Children)
		}
	}
	walk(all)

	products := e.listAll("&status=any")
	if len(products) != len(demo.Products) {
		t.Fatalf("%d products, want %d", len(products), len(demo.Products))
	}
	bySKU := map[string]*Product{}
	for _, p := range products {
		bySKU[p.SKU] = p
	}
	inStock := 0
	for _, row := range demo.Products {
		p := bySKU[row.SKU]
		if p == nil {
			t.Errorf("%s is missing", row.SKU)
			continue
		}
		var slugs []string
		for _, id := range p.CategoryIDs {
			slugs = append(slugs, slugOf[id])
		}
		slices.Sort(slugs)
		wantSlugs := slices.Sorted(slices.Values(row.Categories))
		if p.Status != StatusActive || p.Name != row.Name || p.Price != (Money{Amount: row.Price,
			Currency: "USD"}) || !slices.Equal(slugs, wantSlugs) || p.Available != row.Stock {
			t.Errorf("%s = %s %q %v %v available %d; want active %q %d USD %v available %d", row.SKU,
				p.Status, p.Name, p.Price, slugs, p.Available, row.Name, row.Price, wantSlugs, row.Stock)
		}
		if p.Available > 0 {
			inStock++
		}
	}
	if inStock < len(demo.Products)*3/4 {
		t.Errorf("only %d of %d demo products are in stock", inStock, len(demo.Products))
	}
}

// TestUnitLoadsDemoOnce: the unit loads the demo catalog when asked, into an
// empty database only.
func TestUnitLoadsDemoOnce(t *testing.T) {
	t.Parallel()
	db := sqldbtest.SQLite(t, outbox.Schema, inbox.Schema, Schema)
	cfg := testConfig()
	cfg.DemoData = true
	ctx := context.Background()
	for range 2 {
		if _, err := Unit(cfg).Build(ctx, app.Deps{Name: "catalog", DB: db,
			Logger: slog.New(slog.DiscardHandler)}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM products").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := strings.Count(string(demoCatalog), `"sku"`); n != want {
		t.Errorf("%d products after two starts, want %d", n, want)
	}
}

const importJSON = `{
  "categories": [
    {"slug": "tools", "name": "Tools", "position": 1},
    {"slug": "hand-tools", "name": "Hand tools", "parent": "tools"}
  ],
  "products": [
    {"sku": "IMP-1", "name": "Claw Hammer", "price": 1299, "categories": ["hand-tools"],
     "attributes": {"weight": "450g"}, "images": ["https://img.example.com/hammer.jpg"],
     "status": "active", "stock": 5},
    {"sku": "IMP-2", "name": "Free Saw", "price": 0, "status": "active", "stock": 1},
    {"sku": "IMP-3", "name": "Lost Level", "price": 800, "categories": ["nope"], "stock": 1},
    {"sku": "IMP-1", "name": "Second Hammer", "price": 1399, "stock": 1},
    {"sku": "IMP-5", "name": "Negative Nails", "price": 199, "stock": -3},
    {"sku": "IMP-6", "name": "Draft Drill", "price": 8999, "categories": ["tools"]}
  ]
}`

const importCSV = `sku,name,price,description,categories,status,stock,images,attributes
CSV-1,Tape Measure,650,Five metres,tools;hand-tools,active,7,https://img.example.com/t.jpg,length=5m;colour=yellow
CSV-2,Priceless Pliers,abc,,hand-tools,active,3,,
CSV-3,Mystery Box,900,,gadgets,active,3,,
IMP-1,Hammer Again,1299,,,active,3,,
CSV-5,Many Screws,150,,,active,lots,,
CSV-6,Utility Knife,450,,hand-tools,active,0,,
`

func TestImportCommand(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		dir := t.TempDir()
		write := func(name, content string) string {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}
		ctx := context.Background()
		tests := []struct {
			name     string
			args     []string
			code     int
			want     []string // lines of the output, in this order
			imported []string // SKUs that must exist afterwards
		}{
			{"json with bad rows", []string{"import-products", write("products.json", importJSON)}, 1,
				[]string{
					"1/6 rows", "6/6 rows",
					`row 2 (sku "IMP-2") rejected: price.amount must be from 1`,
					`row 3 (sku "IMP-3") rejected: categories no category has the slug "nope"`,
					`row 4 (sku "IMP-1") rejected: another product has this SKU`,
					`row 5 (sku "IMP-5") rejected: stock must be from 0 to 1000000`,
					"imported 2 products, rejected 4",
				}, []string{"IMP-1", "IMP-6"}},
			{"csv with bad rows", []string{"import-products", write("products.csv", importCSV)}, 1,
				[]string{
					"6/6 rows",
					`row 2 (sku "CSV-2") rejected: price.amount must be from 1`,
					`row 3 (sku "CSV-3") rejected: categories no category has the slug "gadgets"`,
					`row 4 (sku "IMP-1") rejected: another product has this SKU`,
					`row 5 (sku "CSV-5") rejected: stock must be from 0 to 1000000`,
					"imported 2 products, rejected 4",
				}, []string{"CSV-1", "CSV-6"}},
			{"all good", []string{"import-products", write("good.csv",
				"sku,name,price\nGOOD-1,Good One,100\nGOOD-2,Good Two,200\n")}, 0,
				[]string{"2/2 rows", "imported 2 products, rejected 0"}, []string{"GOOD-1", "GOOD-2"}},
			{"no file", []string{"import-products"}, 2, []string{"usage: import-products"}, nil},
			{"another command", []string{"export-products", "x.json"}, 2, []string{"usage: import-products"},
				nil},
			{"missing file", []string{"import-products", filepath.Join(dir, "absent.json")}, 2,
				[]string{"import-products:"}, nil},
			{"malformed json", []string{"import-products", write("bad.json", `{"products": [`)}, 2,
				[]string{"import-products: bad.json"}, nil},
			{"unknown json field", []string{"import-products", write("odd.json",
				`{"products": [{"sku": "ODD-1", "name": "Odd", "price": 1, "colour": "red"}]}`)}, 2,
				[]string{"import-products: odd.json"}, nil},
			{"json price not a number", []string{"import-products", write("price.json",
				`{"products": [{"sku": "ODD-2", "name": "Odd", "price": "12.99"}]}`)}, 2,
				[]string{"import-products: price.json"}, nil},
			{"csv without a price column", []string{"import-products", write("noprice.csv",
				"sku,name\nODD-3,Odd\n")}, 2, []string{`the header has no "price" column`}, nil},
		}
		for _, tt := range tests {
			var out bytes.Buffer
			code := ImportCommand(ctx, tt.args, dbURL, testConfig(), &out)
			if code != tt.code {
				t.Errorf("%s: exit code %d, want %d; output:\n%s", tt.name, code, tt.code, &out)
			}
			rest := out.String()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("%s: output lacks %q (in order); output:\n%s", tt.name, w, &out)
					break
				}
				rest = rest[i+len(w):]
			}
			if strings.Count(out.String(), "rejected:") != strings.Count(strings.Join(tt.want, "\n"),
				"rejected:") {
				t.Errorf("%s: other rows rejected; output:\n%s", tt.name, &out)
			}
			for _, sku := range tt.imported {
				if e.productBySKU(sku) == nil {
					t.Errorf("%s: %s was not imported", tt.name, sku)
				}
			}
		}

		// What was imported is what the files said.
		tools := map[string]string{}
		for _, c := range e.categoryTree() {
			for _, child := range c.Children {
				tools[child.Slug] = child.ID
			}
			tools[c.Slug] = c.ID
		}
		checks := []struct {
			sku        string
			name       string
			price      int64
			status     string
			categories []string
			attrs      map[string]string
			images     []string
			stock      int64
		}{
			{"IMP-1", "Claw Hammer", 1299, StatusActive, []string{tools["hand-tools"]},
				map[string]string{"weight": "450g"}, []string{"https://img.example.com/hammer.jpg"}, 5},
			{"IMP-6", "Draft Drill", 8999, StatusDraft, []string{tools["tools"]}, map[string]string{},
				[]string{}, 0},
			{"CSV-1", "Tape Measure", 650, StatusActive, []string{tools["tools"], tools["hand-tools"]},
				map[string]string{"length": "5m", "colour": "yellow"},
				[]string{"https://img.example.com/t.jpg"}, 7},
			{"CSV-6", "Utility Knife", 450, StatusActive, []string{tools["hand-tools"]}, map[string]string{},
				[]string{}, 0},
			{"GOOD-2", "Good Two", 200, StatusDraft, []string{}, map[string]string{}, []string{}, 0},
		}
		for _, c := range checks {
			p := e.productBySKU(c.sku)
			if p == nil {
				continue // reported above
			}
			if p.Name != c.name || p.Price.Amount != c.price || p.Status != c.status ||
				!slices.Equal(p.CategoryIDs, c.categories) || !reflect.DeepEqual(p.Attributes, c.attrs) ||
				!slices.Equal(p.Images, c.images) || p.Available != c.stock {
				t.Errorf("%s = %+v, want %+v", c.sku, p, c)
			}
			if inv := e.inventory(p.ID); inv.OnHand != c.stock {
				t.Errorf("%s: inventory %+v, want %d on hand", c.sku, inv, c.stock)
			}
		}
		if p := e.productBySKU("IMP-2"); p != nil {
			t.Errorf("the rejected IMP-2 was imported: %+v", p)
		}
		if got := len(e.listAll("&status=any")); got != 6 {
			t.Errorf("%d products in the catalog, want the 6 good rows", got)
		}
	})
}

// productBySKU finds a product by SKU in the database, and reads it through
// the API as an admin; nil when there is none.
func (e *env) productBySKU(sku string) *Product {
	e.t.Helper()
	var id string
	rows, err := e.svc.db.QueryContext(context.Background(),
		"SELECT id FROM products WHERE sku = $1", sku)
	if err != nil {
		e.t.Fatal(err)
	}
	found := rows.Next()
	if found {
		err = rows.Scan(&id)
	}
	rows.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	if !found {
		return nil
	}
	r := e.do("GET", "/api/v1/products/"+id, e.adminToken(), nil)
	expect(e.t, r, http.StatusOK, "")
	var p Product
	r.json(e.t, &p)
	return &p
}
