package catalog

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/sqldb"
)

// fullScan finds a plan step that reads a whole table of products, their
// categories or their stock: SQLite's "SCAN p" without an index, and
// PostgreSQL's "Seq Scan on products".
var fullScan = regexp.MustCompile(`(?m)(^|\s)SCAN (p|p2|pc|i|products|product_categories|inventory)( |$)` +
	`|Seq Scan on (products|product_categories|inventory)\b`)

// sortStep finds a plan step that sorts rows instead of reading them in order
// from an index.
var sortStep = regexp.MustCompile(`USE TEMP B-TREE FOR (RIGHT PART OF )?ORDER BY|(^|\s)(Incremental )?Sort\b`)

// plan explains the SQL that answers q, reaching the products by way.
func plan(t *testing.T, db *sqldb.DB, q Query, how listPlan) string {
	t.Helper()
	query, args := listQuery(db.Dialect(), q, how)
	explain := "EXPLAIN QUERY PLAN "
	if db.Dialect() == sqldb.Postgres {
		explain = "EXPLAIN "
	}
	var lines []string
	err := db.Tx(context.Background(), func(tx *sqldb.Tx) error {
		rows, err := tx.QueryContext(context.Background(), explain+query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			// SQLite: id, parent, notused, detail; PostgreSQL: one text line.
			line := vals[len(vals)-1]
			switch v := line.(type) {
			case []byte:
				lines = append(lines, string(v))
			case string:
				lines = append(lines, v)
			}
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

// generateProducts adds $1 products to the categories of scaleCatalog, as
// scaleCatalog names them, in a few statements (PostgreSQL only: Import
// would take a while).
var generateProducts = []string{`
INSERT INTO products (id, sku, slug, name, sort_name, description, search_text, price_amount,
	price_currency, category_ids, attributes, images, status, version, created_at, updated_at)
SELECT 'gen-' || i, 'GEN-' || i, 'gen-' || i, name, lower(name), '', lower(name),
	100 + (i * 7919) % 100000, 'USD', '[]', '{}', '[]',
	CASE WHEN i % 10 = 0 THEN 'draft' ELSE 'active' END, 1,
	timestamp '2026-01-01' + i * interval '1 second', timestamp '2026-01-01' + i * interval '1 second'
FROM generate_series(1, $1::int) i,
	LATERAL (SELECT (ARRAY['red', 'blue', 'matte', 'classic', 'rustic', 'slim', 'vintage', 'compact'])[1 + i % 8]
		|| ' ' || (ARRAY['oak', 'glass', 'steel', 'linen', 'stoneware'])[1 + (i / 8) % 5]
		|| ' ' || (ARRAY['kettle', 'mug', 'lamp', 'chair', 'vase', 'tray', 'desk', 'clock', 'bowl', 'jar',
			'rack', 'shelf'])[1 + (i / 40) % 12] || ' ' || i AS name) n`, `
INSERT INTO inventory (product_id, on_hand, reserved, updated_at)
SELECT 'gen-' || i, i % 7, 0, timestamp '2026-01-01' FROM generate_series(1, $1::int) i`, `
INSERT INTO product_categories (product_id, category_id)
SELECT 'gen-' || i, c.id FROM generate_series(1, $1::int) i
JOIN categories c ON c.slug = (ARRAY['kitchen', 'garden', 'office', 'bath', 'bedroom', 'outdoor', 'studio',
	'pantry'])[1 + i % 8] || '-' || (i / 8) % 6`,
}

// TestListingPlansUseIndexes: every listing the public can ask for reads
// products through an index on both databases — no full scan of products,
// their categories or their stock — and a listing without filters (first
// page or a later one) reads them in the order of its sort's index, without
// sorting. A q of 3 characters or more that few products match uses the
// trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL; SQLite uses it for
// every such q, PostgreSQL walks the sort's index instead when the text is
// common enough to fill a page soon).
func TestListingPlansUseIndexes(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		svc := bareService(t, dbURL)
		ctx := context.Background()
		if _, err := svc.Import(ctx, scaleCatalog(200), nil); err != nil {
			t.Fatal(err)
		}
		if svc.db.Dialect() == sqldb.Postgres {
			// PostgreSQL plans by the statistics of the data: give it as many
			// products as a real shop, and their statistics.
			for _, stmt := range generateProducts {
				if _, err := svc.db.ExecContext(ctx, stmt, 30_000); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := svc.db.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		price, name, at := int64(5000), "ceramic", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		after := map[string]*cursor{
			"-created_at": {ID: "x", CreatedAt: &at, Sort: "-created_at"},
			"price":       {ID: "x", Price: &price, Sort: "price"},
			"-price":      {ID: "x", Price: &price, Sort: "-price"},
			"name":        {ID: "x", Name: &name, Sort: "name"},
		}
		minPrice, maxPrice := int64(1000), int64(9000)
		for sort := range sorts {
			base := Query{Sort: sort, Status: StatusActive, Limit: 20}
			cases := []struct {
				name    string
				edit    func(q *Query)
				inOrder bool // read in index order, no sort step
				trigram bool // uses the trigram index
			}{
				{"first page", func(*Query) {}, true, false},
				{"later page", func(q *Query) { q.After = after[sort] }, true, false},
				{"q", func(q *Query) { q.Text = "kettle" }, false, false},
				{"q, later page", func(q *Query) { q.Text = "stoneware mug"; q.After = after[sort] }, false, false},
				{"rare q", func(q *Query) { q.Text = "2345" }, false, true},
				{"short q", func(q *Query) { q.Text = "ke" }, false, false},
				{"root category", func(q *Query) { q.Category = "kitchen" }, false, false},
				{"leaf category", func(q *Query) { q.Category = "kitchen-3" }, false, false},
				{"category and q", func(q *Query) { q.Category = "kitchen"; q.Text = "kettle" }, false, false},
				{"prices", func(q *Query) { q.MinPrice, q.MaxPrice = &minPrice, &maxPrice }, false, false},
				{"in stock", func(q *Query) { t := true; q.InStock = &t }, false, false},
			}
			for _, c := range cases {
				q := base
				c.edit(&q)
				// SQLite: each way listWay may choose (PostgreSQL's planner
				// chooses for itself).
				ways := map[string]listPlan{"walking the sort's index": {way: walkSortIndex}}
				if svc.db.Dialect() == sqldb.Postgres {
					// What listWay gives the planner: the category tree's ids.
					how, err := listWay(ctx, svc.db, q, nil)
					if err != nil {
						t.Fatal(err)
					}
					ways = map[string]listPlan{"the planner's choice": how}
				}
				if svc.db.Dialect() == sqldb.SQLite {
					if len([]rune(q.Text)) >= 3 {
						// listWay lists the rowids the trigram index matched
						// when there are fewer than manyMatches.
						ways["text first"] = listPlan{way: textFirst}
						ways["text first, matches listed"] = listPlan{way: textFirst, matches: "[1,2,3]"}
						ways["walking the sort's index, matches listed"] = listPlan{way: walkSortIndex, matches: "[1,2,3]"}
					}
					if q.Category != "" && q.Text == "" {
						how, err := listWay(ctx, svc.db, q, nil)
						if err != nil {
							t.Fatal(err)
						}
						if how.way == categoryRange {
							ways["the leaf's links"] = how
						}
					}
					if q.Category != "" {
						ways["category first"] = listPlan{way: categoryFirst}
						ways["walking the sort's index, category listed"] = listPlan{way: walkSortIndex, listCategory: true}
					}
				}
				for how, way := range ways {
					got := plan(t, svc.db, q, way)
					t.Logf("%s, sort %s, %s:\n%s", c.name, sort, how, got)
					if fullScan.MatchString(got) {
						t.Errorf("%s, sort %s, %s: a full scan:\n%s", c.name, sort, how, got)
					}
					// A leaf's links are read in order on SQLite, which is told
					// the index; PostgreSQL's planner sorts the few rows a leaf
					// has in this test's data.
					leaf := way.way == categoryRange && svc.db.Dialect() == sqldb.SQLite
					if (c.inOrder || leaf) && sortStep.MatchString(got) {
						t.Errorf("%s, sort %s: sorts instead of reading an index in order:\n%s", c.name, sort, got)
					}
					uses := strings.Contains(got, "products_search")
					if c.trigram && !uses && (svc.db.Dialect() == sqldb.Postgres || how == "text first") {
						t.Errorf("%s, sort %s, %s: the trigram index is not used:\n%s", c.name, sort, how, got)
					}
				}
			}
		}
	})
}
