package catalog

import (
	"context"
	"strings"
	"unicode/utf8"

	"emporium/internal/platform/sqldb"
)

// walkFirstRows is how many products, per product of the page, walkFirst
// looks at: a page fills within them when 1 product in 25 or more matches q.
const walkFirstRows = 25

// sortColumn names the column a sort's ORDER BY ("p.price_amount DESC,
// p.id") orders by first.
func sortColumn(order string) string {
	first, _, _ := strings.Cut(order, ",")
	col, _, _ := strings.Cut(strings.TrimPrefix(first, "p."), " ")
	return col
}

// walkFirst answers a text search on SQLite — q alone, without a category,
// prices or stock — from the first walkFirstRows×(Limit+1) products of the
// sort's index, whose entries hold each product's search_text (migration 6),
// when that many hold Limit+1 matches: then those are the page, the first
// matches in the sort's order, whatever the index after them holds. A text
// that common needs no trigram index, which costs most for it (counting up
// to manyMatches of "for the kitchen" took 1.6–1.9 ms at 100,000 products;
// this walk 0.2 ms, and 0.1 ms when it finds too few and listWay reads the
// trigram index after all). ok reports whether ps is the answer.
func walkFirst(ctx context.Context, db querier, q Query) (ps []*Product, ok bool, err error) {
	query, args, ok := walkFirstQuery(db.Dialect(), q)
	if !ok {
		return nil, false, nil
	}
	ps, err = scanProducts(db.QueryContext(ctx, query, args...))
	return ps, len(ps) > q.Limit, err
}

// walkFirstQuery is walkFirst's SQL and its arguments, and whether q is a
// search walkFirst may answer. The innermost query walks the sort's index
// (its covering entries: no product row is read), the middle one keeps the
// first Limit+1 that match, and only those are joined with their rows.
func walkFirstQuery(dialect sqldb.Dialect, q Query) (string, []any, bool) {
	text := strings.ToLower(q.Text)
	if dialect != sqldb.SQLite || q.Status == "any" || utf8.RuneCountInString(text) < 3 || q.Category != "" ||
		q.MinPrice != nil || q.MaxPrice != nil || q.InStock != nil {
		return "", nil, false
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + itoa(int64(len(args)))
	}
	s := sorts[q.Sort]
	col := sortColumn(s.order)
	inner := "SELECT p.rowid AS r, p.search_text AS search_text, p." + col + " AS " + col + ", p.id AS id" +
		" FROM products p INDEXED BY " + sortIndexes[q.Sort] + " WHERE p.status = " + arg(q.Status)
	if q.After != nil {
		key, _ := s.arg(q.After)
		k, id := arg(key), arg(q.After.ID)
		inner += " AND " + strings.NewReplacer("$K", k, "$I", id).Replace(s.after)
	}
	page := arg(q.Limit + 1)
	inner += " ORDER BY " + s.order + " LIMIT " + arg(walkFirstRows*(q.Limit+1))
	// The inner query's columns bear the products' names, so the sort's
	// ORDER BY reads them with walk. for p.
	middle := "SELECT walk.r FROM (" + inner + ") walk WHERE walk.search_text LIKE " +
		arg("%"+escapeLike(text)+"%") + ` ESCAPE '\' ORDER BY ` + strings.ReplaceAll(s.order, "p.", "walk.") +
		" LIMIT " + page
	return "SELECT " + productColumns + " FROM (" + middle + ") w JOIN products p ON p.rowid = w.r" +
		" LEFT JOIN inventory i ON i.product_id = p.id ORDER BY " + s.order + " LIMIT " + page, args, true
}
