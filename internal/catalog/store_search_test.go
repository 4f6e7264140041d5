package catalog

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// TestWalkFirstPagesAsTheFullSearch pages through text searches common
// enough for walkFirst to answer (and rare ones it hands on to the trigram
// index), by every sort and two page sizes, and checks every page against
// Go's reckoning: the active products whose text holds q, in the sort's
// order, each once.
func TestWalkFirstPagesAsTheFullSearch(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		svc := bareService(t, dbURL)
		ctx := context.Background()
		if _, err := svc.Import(ctx, scaleCatalog(1500), nil); err != nil {
			t.Fatal(err)
		}
		all, err := scanProducts(svc.db.QueryContext(ctx, "SELECT "+productColumns+productFrom))
		if err != nil {
			t.Fatal(err)
		}
		answered, declined := 0, 0
		for _, text := range []string{"red", "RED", "for the kitchen", "steel", "mug", "oak kettle", "123", "no such"} {
			for sort := range sorts {
				for _, limit := range []int{5, 20} {
					slices.SortFunc(all, func(a, b *Product) int { return compareIn(sort, a, b) })
					var want []string
					for _, p := range all {
						if p.Status == StatusActive && strings.Contains(searchText(p), strings.ToLower(text)) {
							want = append(want, p.ID)
						}
					}
					var got []string
					q := Query{Text: text, Sort: sort, Status: StatusActive, Limit: limit}
					for pages := 0; ; pages++ {
						if pages > len(all)/limit {
							t.Fatalf("q=%q, sort %s: pages without end", text, sort)
						}
						if _, ok, err := walkFirst(ctx, svc.db, q); err != nil {
							t.Fatal(err)
						} else if ok {
							answered++
						} else {
							declined++
						}
						ps, err := listProducts(ctx, svc.db, q, nil)
						if err != nil {
							t.Fatal(err)
						}
						for _, p := range ps[:min(len(ps), limit)] {
							got = append(got, p.ID)
						}
						if len(ps) <= limit {
							break
						}
						c := sorts[sort].key(ps[limit-1])
						c.Sort = sort
						q.After = &c
					}
					if !slices.Equal(got, want) {
						t.Errorf("q=%q, sort %s, %d a page: %d products %v, want %d %v", text, sort, limit,
							len(got), got, len(want), want)
					}
				}
			}
		}
		if svc.db.Dialect() == sqldb.SQLite && (answered == 0 || declined == 0) {
			t.Errorf("walkFirst answered %d pages and declined %d: want some of each", answered, declined)
		}
	})
}

// TestWalkFirstReadsTheIndexOnly: on SQLite walkFirst's walk reads the
// sort's index alone — its entries hold the search text (migration 6) — and
// reads a product's row only for the page it answers.
func TestWalkFirstReadsTheIndexOnly(t *testing.T) {
	t.Parallel()
	svc := bareService(t, sqldbtest.SQLiteURL(t))
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for sort := range sorts {
		for _, after := range []bool{false, true} {
			q := Query{Text: "kettle", Sort: sort, Status: StatusActive, Limit: 20}
			if after {
				price, name := int64(5000), "ceramic"
				q.After = &cursor{ID: "x", CreatedAt: &at, Price: &price, Name: &name, Sort: sort}
			}
			query, args, ok := walkFirstQuery(svc.db.Dialect(), q)
			if !ok {
				t.Fatalf("sort %s: walkFirst declines a search by q alone", sort)
			}
			got := explain(t, svc.db, query, args)
			if want := "USING COVERING INDEX " + sortIndexes[sort]; !strings.Contains(got, want) {
				t.Errorf("sort %s, later page %v: %q is not in the plan:\n%s", sort, after, want, got)
			}
			if fullScan.MatchString(got) {
				t.Errorf("sort %s, later page %v: a full scan:\n%s", sort, after, got)
			}
		}
	}
}

// explain is SQLite's plan of query.
func explain(t *testing.T, db *sqldb.DB, query string, args []any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
