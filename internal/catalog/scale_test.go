package catalog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// The words scaleCatalog makes names and descriptions of.
var (
	scaleRoots      = []string{"kitchen", "garden", "office", "bath", "bedroom", "outdoor", "studio", "pantry"}
	scaleAdjectives = []string{"red", "blue", "green", "matte", "glossy", "small", "large", "classic", "modern",
		"rustic", "slim", "heavy", "light", "round", "square", "tall", "vintage", "folding", "compact", "deluxe"}
	scaleMaterials = []string{"ceramic", "steel", "oak", "walnut", "glass", "copper", "bamboo", "linen",
		"cotton", "stoneware", "porcelain", "cast iron", "brass", "wool", "leather", "marble"}
	scaleNouns = []string{"kettle", "mug", "teapot", "bowl", "plate", "lamp", "chair", "stool", "basket", "vase",
		"jar", "tray", "shelf", "towel", "pillow", "blanket", "planter", "clock", "mirror", "knife", "board",
		"rack", "bench", "desk"}
)

// scaleCatalog is a catalog of n products, the same every time: 8 root
// categories of 6 leaves each, every product in one leaf, named
// "<adjective> <material> <noun> <number>", nine in ten active.
func scaleCatalog(n int) ImportFile {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(words []string) string { return words[r.IntN(len(words))] }
	var f ImportFile
	for i, root := range scaleRoots {
		f.Categories = append(f.Categories, ImportCategory{Slug: root, Name: root, Position: i})
		for j := range 6 {
			slug := root + "-" + strconv.Itoa(j)
			f.Categories = append(f.Categories, ImportCategory{Slug: slug, Name: slug, Parent: root, Position: j})
		}
	}
	for i := range n {
		status := StatusActive
		if r.IntN(10) == 0 {
			status = StatusDraft
		}
		f.Products = append(f.Products, ImportProduct{
			SKU:  fmt.Sprintf("SCALE-%07d", i),
			Name: fmt.Sprintf("%s %s %s %d", pick(scaleAdjectives), pick(scaleMaterials), pick(scaleNouns), i),
			Description: fmt.Sprintf("A %s %s %s for the %s. Made of %s.", pick(scaleAdjectives),
				pick(scaleAdjectives), pick(scaleNouns), pick(scaleRoots), pick(scaleMaterials)),
			Price:      int64(100 + r.IntN(100_000)),
			Categories: []string{pick(scaleRoots) + "-" + strconv.Itoa(r.IntN(6))},
			Status:     status,
			Stock:      int64(r.IntN(50)),
		})
	}
	return f
}

// scaleProducts is how many products BenchmarkListingAtScale imports.
const scaleProducts = 100_000

// BenchmarkListingAtScale imports scaleProducts products through Import,
// then runs listing queries straight against the database — as every
// request would on a cold cache — from 16 goroutines, and reports their
// 50th and 99th percentile latency: text searches (q: words and parts of
// words of the names and descriptions, by each sort, first pages and later
// ones) and category listings (a root of about 12 % of the products, or a
// leaf of 2 %, by each sort). Run it with a fixed count, for example
//
//	go test -run '^$' -bench ListingAtScale -benchtime 2000x ./internal/catalog/
//
// (the import takes a few minutes on each database; PostgreSQL runs when
// EMPORIUM_TEST_POSTGRES_URL is set). To measure again without importing
// again, name databases to keep in EMPORIUM_SCALE_SQLITE_URL and
// EMPORIUM_SCALE_POSTGRES_URL: the products are imported there when there
// are none yet.
func BenchmarkListingAtScale(b *testing.B) {
	dbs := []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string {
			if url := os.Getenv("EMPORIUM_SCALE_SQLITE_URL"); url != "" {
				return url
			}
			return sqldbtest.SQLiteURL(b)
		}},
		{"postgres", func(b *testing.B) string {
			if url := os.Getenv("EMPORIUM_SCALE_POSTGRES_URL"); url != "" {
				return url
			}
			sqldbtest.NeedPostgres(b)
			return sqldbtest.PostgresDatabase(b, outbox.Schema, inbox.Schema, Schema)
		}},
	}
	words := slices.Concat(scaleAdjectives, scaleMaterials, scaleNouns,
		[]string{"ettl", "ramic", "stone", "for the kitchen", "oak kettle", "99", "1234", "no such thing"})
	sortNames := []string{"-created_at", "price", "-price", "name"}
	for _, d := range dbs {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			svc := bareService(b, d.url(b))
			db := svc.db
			if n, err := countProducts(ctx, db); err != nil || n == 0 {
				start := time.Now()
				res, err := svc.Import(ctx, scaleCatalog(scaleProducts), nil)
				if err != nil || res.Imported != scaleProducts {
					b.Fatalf("import: %d imported, %v", res.Imported, err)
				}
				b.Logf("%s: imported %d products in %s", d.name, res.Imported, time.Since(start).Round(time.Second))
			}
			if db.Dialect() == sqldb.Postgres {
				// As autovacuum does soon after a bulk import: statistics for
				// the planner, and the visibility map, without which every
				// index-only scan of product_categories reads the table too.
				if _, err := db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			// Every query twice: for its first page, and for the page after
			// it (its cursor read here, before the clock runs).
			pages := func(qs []Query) []Query {
				var out []Query
				for _, q := range qs {
					ps, err := listProducts(ctx, db, q, nil)
					if err != nil {
						b.Fatal(err)
					}
					out = append(out, q)
					if len(ps) > q.Limit {
						c := sorts[q.Sort].key(ps[q.Limit-1])
						c.Sort = q.Sort
						later := q
						later.After = &c
						out = append(out, later)
					}
				}
				rand.New(rand.NewPCG(3, 4)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
				return out
			}
			var byText, byCategory []Query
			for _, sort := range sortNames {
				for _, w := range words {
					byText = append(byText, Query{Text: w, Sort: sort, Status: StatusActive, Limit: 20})
				}
				for _, root := range scaleRoots {
					byCategory = append(byCategory, Query{Category: root, Sort: sort, Status: StatusActive, Limit: 20})
					for j := range 6 {
						byCategory = append(byCategory, Query{Category: root + "-" + strconv.Itoa(j), Sort: sort,
							Status: StatusActive, Limit: 20})
					}
				}
			}
			// The rendered pages are not used (every query goes to the
			// database), but the categories' sizes are remembered, as the
			// service remembers them.
			sizes := newCategorySizes(time.Now)
			for name, qs := range map[string][]Query{"q": pages(byText), "category": pages(byCategory)} {
				// One client shows what a query costs; 16 what they cost
				// when they queue for the machine's cores.
				for _, clients := range []int{1, 16} {
					b.Run(name+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
						scaleLoad(b, clients, func(i int) error {
							_, _, err := runList(ctx, db, qs[i%len(qs)], sizes)
							return err
						})
					})
				}
			}
		})
	}
}

// scaleLoad runs b.N queries from clients goroutines (testkit.ClosedLoop).
func scaleLoad(b *testing.B, clients int, op func(i int) error) {
	b.Helper()
	testkit.ClosedLoop(b, clients, "queries", func(c testkit.Call) error { return op(c.Index) })
}
