package catalog

import (
	"context"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/web"
)

// searchTexts are the queries checked against strings.Contains: words,
// pieces of words, across name and description, short ones, and ones with
// quotes, LIKE's wildcards and letters beyond ASCII.
var searchTexts = []string{"kettle", "ettl", "KeTTle", "steel kettle", "kettle boils", "ke", "e", "зелёный",
	"чай", "лёный", `"quoted"`, `o"q`, "100%", "%", "e_c", "_", "ß", "straße", "zzz", "tea pot", "pot", "oo"}

// searchProducts are the products searchTexts run over: name, description.
var searchProducts = [][2]string{
	{"Steel kettle", "It boils water."},
	{"Copper Kettle", "The kettle boils fast."},
	{"Чай зелёный", "Листовой чай."},
	{"Teapot", `Says "quoted" on the lid.`},
	{"Pot of gold", "100% pure; see e_c."},
	{"Straße sign", "Made in Köln."},
	{"Tea pot", "Two words."},
	{"Moon", "Nothing else."},
}

// matching lists the names of the products whose name or description holds
// text, by Go's own reckoning (what API.md's q means).
func matching(products [][2]string, text string) []string {
	text = strings.ToLower(strings.TrimSpace(text))
	var out []string
	for _, p := range products {
		if strings.Contains(strings.ToLower(p[0]+" "+p[1]), text) {
			out = append(out, p[0])
		}
	}
	slices.Sort(out)
	return out
}

// searchNames runs q (by name) and returns the names found.
func searchNames(t *testing.T, svc *Service, text string) []string {
	t.Helper()
	q := Query{Text: strings.TrimSpace(text), Sort: "name", Status: StatusActive, Limit: 100}
	ps, err := listProducts(context.Background(), svc.db, q, nil)
	if err != nil {
		t.Fatalf("q=%q: %v", text, err)
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	slices.Sort(names)
	return names
}

// checkSearch runs every search text and compares with matching.
func checkSearch(t *testing.T, svc *Service, products [][2]string, when string) {
	t.Helper()
	for _, text := range searchTexts {
		if got, want := searchNames(t, svc, text), matching(products, text); !slices.Equal(got, want) {
			t.Errorf("%s: q=%q finds %q, want %q", when, text, got, want)
		}
	}
}

// TestSearchIndexFollowsWrites: q finds what API.md says (a case-insensitive
// substring of the name or the description), through the trigram indexes,
// and keeps doing so as products are created, edited and archived.
func TestSearchIndexFollowsWrites(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		svc := bareService(t, dbURL)
		ctx := context.Background()
		ids := map[string]string{}
		for i, p := range searchProducts {
			created, err := svc.CreateProduct(ctx, CreateProductRequest{SKU: "S-" + itoa(int64(i)), Name: p[0],
				Description: p[1], Price: Money{Amount: 100, Currency: "USD"}, Status: StatusActive})
			if err != nil {
				t.Fatal(err)
			}
			ids[p[0]] = created.ID
		}
		checkSearch(t, svc, searchProducts, "created")

		// Edits: a description changes, a product is renamed, one is archived.
		products := slices.Clone(searchProducts)
		edit := func(name string, in UpdateProductRequest) {
			t.Helper()
			if _, err := svc.UpdateProduct(ctx, ids[name], "", in); err != nil {
				t.Fatal(err)
			}
		}
		edit("Steel kettle", UpdateProductRequest{Description: web.Optional[string]{Set: true,
			Value: "Whistles when hot."}})
		products[0][1] = "Whistles when hot."
		edit("Moon", UpdateProductRequest{Name: web.Optional[string]{Set: true, Value: "Moon kettle"}})
		products[7][0] = "Moon kettle"
		edit("Teapot", UpdateProductRequest{Status: web.Optional[string]{Set: true, Value: StatusArchived}})
		products = slices.DeleteFunc(products, func(p [2]string) bool { return p[0] == "Teapot" })
		checkSearch(t, svc, products, "edited")
	})
}

// TestSearchMigrationUpgradesInPlace: a database made before the search
// index (the catalog's migrations 1 and 2) with products in it upgrades in
// place: once migrated, q finds the products that were already there.
func TestSearchMigrationUpgradesInPlace(t *testing.T) {
	t.Parallel()
	// Databases with the platform's tables only.
	sqldbtest.RunURL(t, []sqldb.Schema{outbox.Schema, inbox.Schema}, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		old := fstest.MapFS{}
		for _, name := range []string{"00001_catalog.sql", "00002_products_slug_prefix.postgres.sql"} {
			data, err := fs.ReadFile(Schema.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			old[name] = &fstest.MapFile{Data: data}
		}
		if err := db.Migrate(ctx, outbox.Schema, inbox.Schema, sqldb.Schema{Name: Schema.Name, FS: old}); err != nil {
			t.Fatal(err)
		}
		svc, err := New(ctx, db, testConfig(), slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range searchProducts {
			_, err := svc.CreateProduct(ctx, CreateProductRequest{SKU: "U-" + itoa(int64(i)), Name: p[0],
				Description: p[1], Price: Money{Amount: 100, Currency: "USD"}, Status: StatusActive})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx, Schema); err != nil {
			t.Fatal(err)
		}
		checkSearch(t, svc, searchProducts, "after the upgrade")
	})
}
