package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"emporium/internal/platform/sqldb"
)

// querier is what both *sqldb.DB (reads) and *sqldb.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	Dialect() sqldb.Dialect
}

const productColumns = `p.id, p.sku, p.slug, p.name, p.description, p.price_amount, p.price_currency,
	p.category_ids, p.attributes, p.images, p.status, p.version, p.created_at, p.updated_at,
	COALESCE(i.on_hand - i.reserved, 0)`

// productFrom joins each product with its inventory, for the availability.
const productFrom = ` FROM products p LEFT JOIN inventory i ON i.product_id = p.id`

func scanProduct(rows *sql.Rows) (*Product, error) {
	var p Product
	var cats, attrs, images string
	err := rows.Scan(&p.ID, &p.SKU, &p.Slug, &p.Name, &p.Description, &p.Price.Amount, &p.Price.Currency,
		&cats, &attrs, &images, &p.Status, &p.Version, &p.CreatedAt, &p.UpdatedAt, &p.Available)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(json.Unmarshal([]byte(cats), &p.CategoryIDs), json.Unmarshal([]byte(attrs), &p.Attributes),
		json.Unmarshal([]byte(images), &p.Images)); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

func scanProducts(rows *sql.Rows, err error) ([]*Product, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Product
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// productByID reads one product with its availability.
func productByID(ctx context.Context, q querier, id string) (*Product, error) {
	ps, err := scanProducts(q.QueryContext(ctx, "SELECT "+productColumns+productFrom+" WHERE p.id = $1", id))
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, ErrProductNotFound
	}
	return ps[0], nil
}

// productForUpdate is productByID for a transaction that is about to change
// the product. On PostgreSQL it locks the product's row until tx ends, so
// that concurrent writers queue and each reads what the one before wrote,
// instead of all reading one version and all but one failing the version
// check. NO KEY UPDATE, not UPDATE: reservations' foreign-key checks on the
// row must not wait for an edit. SQLite's transaction already holds the one
// write lock.
func productForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (*Product, error) {
	query := "SELECT " + productColumns + productFrom + " WHERE p.id = $1"
	if tx.Dialect() == sqldb.Postgres {
		query += " FOR NO KEY UPDATE OF p"
	}
	ps, err := scanProducts(tx.QueryContext(ctx, query, id))
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, ErrProductNotFound
	}
	return ps[0], nil
}

// productsByIDs reads the known products among ids, in no particular order.
func productsByIDs(ctx context.Context, q querier, ids []string) ([]*Product, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return scanProducts(q.QueryContext(ctx, "SELECT "+productColumns+productFrom+
		" WHERE p.id IN ("+placeholders(1, len(ids))+")", anys(ids)...))
}

// insertProduct writes a new product, its category links and an empty inventory.
func insertProduct(ctx context.Context, tx *sqldb.Tx, p *Product) error {
	cats, attrs, images := jsonText(p.CategoryIDs), jsonText(p.Attributes), jsonText(p.Images)
	_, err := tx.ExecContext(ctx, `INSERT INTO products (id, sku, slug, name, sort_name, description, search_text,
		price_amount, price_currency, category_ids, attributes, images, status, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		p.ID, p.SKU, p.Slug, p.Name, strings.ToLower(p.Name), p.Description, searchText(p),
		p.Price.Amount, p.Price.Currency, cats, attrs, images, p.Status, p.Version, p.CreatedAt, p.UpdatedAt)
	if err := productConflict(err); err != nil {
		return err
	}
	if err := linkCategories(ctx, tx, p.ID, p.CategoryIDs); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO inventory (product_id, on_hand, reserved, updated_at)
		VALUES ($1, 0, 0, $2)`, p.ID, p.CreatedAt)
	return err
}

// updateProduct writes every mutable column of p, if p.Version-1 is still the
// stored version, and relinks its categories.
func updateProduct(ctx context.Context, tx *sqldb.Tx, p *Product) error {
	res, err := tx.ExecContext(ctx, `UPDATE products SET sku = $2, slug = $3, name = $4, sort_name = $5,
		description = $6, search_text = $7, price_amount = $8, price_currency = $9, category_ids = $10,
		attributes = $11, images = $12, status = $13, version = $14, updated_at = $15
		WHERE id = $1 AND version = $16`,
		p.ID, p.SKU, p.Slug, p.Name, strings.ToLower(p.Name), p.Description, searchText(p),
		p.Price.Amount, p.Price.Currency, jsonText(p.CategoryIDs), jsonText(p.Attributes), jsonText(p.Images),
		p.Status, p.Version, p.UpdatedAt, p.Version-1)
	if err := productConflict(err); err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(err, ErrStale)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM product_categories WHERE product_id = $1", p.ID); err != nil {
		return err
	}
	return linkCategories(ctx, tx, p.ID, p.CategoryIDs)
}

// linkCategories links the product to its categories, each link with the
// product's sort keys as just written (migration 5), which a leaf category's
// listing reads in order.
func linkCategories(ctx context.Context, tx *sqldb.Tx, productID string, categoryIDs []string) error {
	for _, c := range categoryIDs {
		_, err := tx.ExecContext(ctx, `INSERT INTO product_categories
			(product_id, category_id, status, created_at, price_amount, sort_name)
			SELECT id, $2, status, created_at, price_amount, sort_name FROM products WHERE id = $1`,
			productID, c)
		if errors.Is(sqldb.Translate(err), sqldb.ErrForeignKey) {
			return errUnknownCategory
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// productConflict names the unique value a product write collided on.
func productConflict(err error) error {
	switch {
	case sqldb.IsUnique(err, "sku"):
		return ErrSKUTaken
	case sqldb.IsUnique(err, "slug"):
		return ErrSlugTaken
	}
	return err
}

// freeSlug returns base, or base-2, base-3…: the first that no product has
// yet. One query reads base and every slug that starts with "base-", as a
// range of the slug index in byte order ('.' follows '-'), so it costs one
// index lookup when base is free, whatever the number of products; Go picks
// the suffixes out. A product that takes the slug before the caller's insert
// makes that insert fail on the unique slug: the caller looks again.
func freeSlug(ctx context.Context, q querier, base string) (string, error) {
	query := "SELECT slug FROM products WHERE slug = $1 OR (slug >= $2 AND slug < $3)"
	if q.Dialect() == sqldb.Postgres {
		// The byte-order operators of the text_pattern_ops index: >= and <
		// follow the database's collation, which may not order by bytes.
		query = "SELECT slug FROM products WHERE slug = $1 OR (slug ~>=~ $2 AND slug ~<~ $3)"
	}
	rows, err := q.QueryContext(ctx, query, base, base+"-", base+".")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	taken := map[int]bool{}
	for rows.Next() {
		var slug string
		if err := rows.Scan(&slug); err != nil {
			return "", err
		}
		if slug == base {
			taken[1] = true
		} else if n, ok := slugSuffix(slug, base); ok {
			taken[n] = true
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	n := 1
	for taken[n] {
		n++
	}
	if n == 1 {
		return base, nil
	}
	return base + "-" + strconv.Itoa(n), nil
}

// slugSuffix returns n when slug is base-n, for an n of 2 or more written
// as freeSlug writes it (no sign, no leading zero).
func slugSuffix(slug, base string) (int, bool) {
	rest, ok := strings.CutPrefix(slug, base+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 2 && strconv.Itoa(n) == rest
}

// productState is what tells whether a cached product is current.
type productState struct{ version, available int64 }

// productStates reads the version and availability of the known products among ids.
func productStates(ctx context.Context, q querier, ids []string) (map[string]productState, error) {
	rows, err := q.QueryContext(ctx, `SELECT p.id, p.version, COALESCE(i.on_hand - i.reserved, 0)
		FROM products p LEFT JOIN inventory i ON i.product_id = p.id
		WHERE p.id IN (`+placeholders(1, len(ids))+")", anys(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]productState, len(ids))
	for rows.Next() {
		var id string
		var st productState
		if err := rows.Scan(&id, &st.version, &st.available); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}

// countProducts counts the products of every status.
func countProducts(ctx context.Context, db *sqldb.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM products").Scan(&n)
	return n, err
}

// listProducts runs q and returns up to q.Limit+1 products, so the caller
// knows whether there is a next page. On SQLite a text search tries
// walkFirst before listWay chooses a way.
func listProducts(ctx context.Context, db querier, q Query, sizes *categorySizes) ([]*Product, error) {
	if ps, ok, err := walkFirst(ctx, db, q); err != nil || ok {
		return ps, err
	}
	how, err := listWay(ctx, db, q, sizes)
	if err != nil {
		return nil, err
	}
	query, args := listQuery(db.Dialect(), q, how)
	return scanProducts(db.QueryContext(ctx, query, args...))
}

// listAccess is how SQLite reaches the products of a listing. PostgreSQL's
// planner chooses by its statistics; SQLite's, without statistics (or with
// them), may sort every product a filter matches, or walk a whole index to
// find a page of a rare one, both costly with 100,000 products. So the
// catalog chooses by counting what the filters match: it walks the sort's
// index, checking each product against the filters, when they match many
// products (a page fills soon), and reads what a filter matches first, then
// sorts that, when it matches few.
type listAccess int

const (
	walkSortIndex    listAccess = iota // in the sort's index order; q checked against the trigram index's list
	walkCheckingText                   // in the sort's index order; q checked by LIKE alone, row by row
	textFirst                          // the products the trigram index finds for q, then sorted
	categoryFirst                      // the products of the category tree, then sorted
	categoryRange                      // a leaf category's links, in the sort's order (migration 5)
)

// listPlan is how SQLite reaches a listing's products: the way, and, when
// the trigram index was read for q's text and listed every match (fewer than
// manyMatches), their rowids as a JSON array, so that the listing's query
// reads them from that list instead of searching the index a second time.
type listPlan struct {
	way     listAccess
	matches string
	// listCategory: the category's products are few enough (fewer than
	// manyInCategory) that a list of them, made once, checks the products
	// of the walk faster than a look-up of each in product_categories.
	listCategory bool
	// categoryIDs, on PostgreSQL, are the ids of the category's tree, read
	// before the listing (see postgresPlan).
	categoryIDs []string
}

// fewMatches and manyMatches bound the products a filter matches, as
// counted, for SQLite to read them first (fewer than fewMatches: sorting
// them costs less than walking an index to fill a page), or to check q by
// LIKE alone while walking the sort's index (manyMatches or more: a page
// fills within a few hundred products, sooner than the trigram index lists
// every match).
const (
	fewMatches  = 300
	manyMatches = 1000
)

// manyInCategory is where a category has so many products that a walk of
// the sort's index meets enough of them to fill a page before a list of them
// all would be made (measured at 100,000 products: a leaf of 2 % costs 0.7–3
// ms looked up product by product and 1 ms listed; a root of 12 % 0.5–1 ms
// looked up and 8–11 ms listed).
const manyInCategory = 4000

// sortIndexes names the index of each sort (see the migrations), and
// linkIndexes the index of each sort on the category links (migration 5).
var (
	sortIndexes = map[string]string{"-created_at": "products_by_created", "price": "products_by_price",
		"-price": "products_by_price_desc", "name": "products_by_name"}
	linkIndexes = map[string]string{"-created_at": "product_categories_by_created",
		"price": "product_categories_by_price", "-price": "product_categories_by_price_desc",
		"name": "product_categories_by_name"}
)

// onLinks rewrites a sort's ORDER BY and keyset condition from the product's
// columns to the copies its category link keeps.
var onLinks = strings.NewReplacer("p.created_at", "pc.created_at", "p.price_amount", "pc.price_amount",
	"p.sort_name", "pc.sort_name", "p.id", "pc.product_id")

// leafRange reports whether a listing of q whose category tree is ids reads
// a range of the category links: one category (a leaf), listed by status,
// without text (a rare text in a large leaf would walk all of it).
func leafRange(q Query, ids []string) bool {
	return len(ids) == 1 && q.Status != "any" && q.Text == ""
}

// categoryIDs reads the ids of the category named slug and of all its
// descendants.
func categoryIDs(ctx context.Context, db querier, slug string) ([]string, error) {
	rows, err := db.QueryContext(ctx, categoryTree("$1")+"SELECT id FROM tree", slug)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := []string{} // no category: a listing of nothing
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// categoryTree is the CTE of the category named by slug $N and all its
// descendants. UNION, not UNION ALL: a category already in the set is not
// added again, so the walk ends even on a cycle of parent links.
func categoryTree(slug string) string {
	return `WITH RECURSIVE tree (id) AS (
			SELECT id FROM categories WHERE slug = ` + slug + `
			UNION SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id) `
}

// listWay chooses how SQLite reaches q's products, reading what its text
// matches (up to manyMatches rowids) and counting what its category matches
// (up to manyInCategory; sizes remembers those counts for a while).
func listWay(ctx context.Context, db querier, q Query, sizes *categorySizes) (listPlan, error) {
	if db.Dialect() == sqldb.Postgres {
		return postgresPlan(ctx, db, q)
	}
	if q.Status == "any" {
		return listPlan{way: walkSortIndex}, nil
	}
	plan := listPlan{way: walkSortIndex}
	if text := strings.ToLower(q.Text); utf8.RuneCountInString(text) >= 3 {
		n, matches, err := textMatches(ctx, db, text)
		if err != nil {
			return plan, err
		}
		switch {
		case n >= manyMatches:
			plan.way = walkCheckingText
		case n < fewMatches:
			return listPlan{way: textFirst, matches: matches}, nil
		default:
			plan.matches = matches
		}
	}
	if q.Category != "" && q.Text == "" {
		ids, err := categoryIDs(ctx, db, q.Category)
		if err != nil || leafRange(q, ids) {
			return listPlan{way: categoryRange, categoryIDs: ids}, err
		}
	}
	if q.Category != "" {
		n, ok := sizes.get(q.Category)
		if !ok {
			var err error
			n, err = countRows(ctx, db, categoryTree("$1")+`SELECT count(*) FROM (SELECT 1 FROM product_categories pc
				WHERE pc.category_id IN (SELECT id FROM tree) LIMIT `+itoa(manyInCategory)+")", q.Category)
			if err != nil {
				return plan, err
			}
			sizes.put(q.Category, n)
		}
		if n < fewMatches {
			return listPlan{way: categoryFirst, matches: plan.matches}, nil
		}
		plan.listCategory = n < manyInCategory
	}
	return plan, nil
}

// countRows reads the count a SELECT count(*) answers.
func countRows(ctx context.Context, db querier, query string, args ...any) (int, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// postgresPlan reads the ids of q's category tree, for the listing to name
// them. PostgreSQL's planner chooses the access path, but from the recursive
// tree alone it estimates hundreds of categories, cannot see how few
// products a leaf holds, and probes product_categories through a join for
// every product its walk meets; with the ids it knows the category's share
// of the products (measured at 100,000 products: 25–40 % less per listing,
// the extra statement included).
func postgresPlan(ctx context.Context, db querier, q Query) (listPlan, error) {
	plan := listPlan{way: walkSortIndex}
	if q.Category == "" {
		return plan, nil
	}
	ids, err := categoryIDs(ctx, db, q.Category)
	plan.categoryIDs = ids
	if leafRange(q, ids) {
		plan.way = categoryRange
	}
	return plan, err
}

// textMatches counts the products whose name or description the trigram
// index finds text in (lower case, 3 characters or more), up to manyMatches,
// and lists their rowids as a JSON array (SQLite builds it: no row per match
// crosses into Go).
func textMatches(ctx context.Context, db querier, text string) (n int, rowids string, err error) {
	rows, err := db.QueryContext(ctx, `SELECT count(*), json_group_array(rowid) FROM (SELECT rowid
		FROM products_search WHERE products_search MATCH $1 LIMIT `+itoa(manyMatches)+")", ftsPhrase(text))
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&n, &rowids); err != nil {
			return 0, "", err
		}
	}
	return n, rowids, rows.Err()
}

// listQuery is the SQL that answers q, reaching the products as plan says
// on SQLite, and its arguments.
func listQuery(dialect sqldb.Dialect, q Query, plan listPlan) (string, []any) {
	way := plan.way
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + itoa(int64(len(args)))
	}
	text := strings.ToLower(q.Text)
	lite := dialect == sqldb.SQLite
	var sql strings.Builder
	links := way == categoryRange
	sorted := lite && (way == textFirst || way == categoryFirst)
	if q.Category != "" && lite && !links {
		sql.WriteString(categoryTree(arg(q.Category)))
	}
	switch {
	case links:
		sql.WriteString("SELECT " + productColumns + " FROM product_categories pc")
		if lite {
			sql.WriteString(" INDEXED BY " + linkIndexes[q.Sort])
		}
		sql.WriteString(" JOIN products p ON p.id = pc.product_id")
	case sorted:
		// Sorted by the sort's keys alone, and only the page's products
		// read whole and joined with their stock: sorting every match's
		// row cost twice as much (217 matches of "oak kettle": 0.7 → 0.4
		// ms at 100,000 products).
		sql.WriteString("SELECT " + productColumns + " FROM (SELECT p.rowid AS r FROM products p")
	default:
		sql.WriteString("SELECT " + productColumns + " FROM products p")
	}
	switch {
	case !lite || links:
	case way == textFirst || way == categoryFirst:
		sql.WriteString(" NOT INDEXED") // but by rowid, from the filter's list
	case q.Status != "any":
		sql.WriteString(" INDEXED BY " + sortIndexes[q.Sort])
	}
	sql.WriteString(" LEFT JOIN inventory i ON i.product_id = p.id WHERE 1 = 1")
	switch {
	case q.Status == "any":
	case links:
		sql.WriteString(" AND pc.status = " + arg(q.Status))
	default:
		sql.WriteString(" AND p.status = " + arg(q.Status))
	}
	switch {
	case q.Category == "":
	case links:
		sql.WriteString(" AND pc.category_id = " + arg(plan.categoryIDs[0]))
	case lite && way == categoryFirst:
		sql.WriteString(` AND p.rowid IN (SELECT p2.rowid FROM product_categories pc
			JOIN products p2 ON p2.id = pc.product_id WHERE pc.category_id IN (SELECT id FROM tree))`)
	case lite && !plan.listCategory:
		// Checked product by product, as the walk meets them: no list of
		// every product of a large category is built first.
		sql.WriteString(` AND EXISTS (SELECT 1 FROM product_categories pc
			WHERE pc.product_id = p.id AND pc.category_id IN (SELECT id FROM tree))`)
	case lite:
		sql.WriteString(` AND p.id IN (SELECT pc.product_id FROM product_categories pc
			WHERE pc.category_id IN (SELECT id FROM tree))`)
	default:
		sql.WriteString(` AND p.id IN (SELECT pc.product_id FROM product_categories pc
			WHERE pc.category_id = ANY(` + arg(plan.categoryIDs) + `))`)
	}
	if text != "" {
		// On SQLite, the trigram index (migration 3) finds the candidates
		// for a text of 3 characters or more, and LIKE checks them; a
		// shorter text is LIKE alone. On PostgreSQL, the trigram index
		// serves LIKE itself.
		switch {
		case !lite || utf8.RuneCountInString(text) < 3 || way == walkCheckingText:
		case plan.matches != "":
			sql.WriteString(" AND p.rowid IN (SELECT value FROM json_each(" + arg(plan.matches) + "))")
		default:
			sql.WriteString(" AND p.rowid IN (SELECT rowid FROM products_search WHERE products_search MATCH " +
				arg(ftsPhrase(text)) + ")")
		}
		sql.WriteString(" AND p.search_text LIKE " + arg("%"+escapeLike(text)+"%") + ` ESCAPE '\'`)
	}
	if q.MinPrice != nil {
		sql.WriteString(" AND p.price_amount >= " + arg(*q.MinPrice))
	}
	if q.MaxPrice != nil {
		sql.WriteString(" AND p.price_amount <= " + arg(*q.MaxPrice))
	}
	if q.InStock != nil {
		if *q.InStock {
			sql.WriteString(" AND COALESCE(i.on_hand - i.reserved, 0) > 0")
		}
	}
	s := sorts[q.Sort]
	order, after := s.order, s.after
	if links {
		order, after = onLinks.Replace(order), onLinks.Replace(after)
	}
	if q.After != nil {
		key, _ := s.arg(q.After)
		k, id := arg(key), arg(q.After.ID)
		sql.WriteString(" AND " + strings.NewReplacer("$K", k, "$I", id).Replace(after))
	}
	page := arg(q.Limit + 1)
	sql.WriteString(" ORDER BY " + order + " LIMIT " + page)
	if sorted {
		sql.WriteString(") s JOIN products p ON p.rowid = s.r LEFT JOIN inventory i ON i.product_id = p.id" +
			" ORDER BY " + order + " LIMIT " + page)
	}
	return sql.String(), args
}

// ftsPhrase is s as an FTS5 phrase, which the trigram tokenizer matches as
// a substring.
func ftsPhrase(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// escapeLike makes s match literally inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func searchText(p *Product) string { return strings.ToLower(p.Name + " " + p.Description) }

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("catalog: encode column: " + err.Error()) // maps and slices of strings always encode
	}
	return string(b)
}

// placeholders returns "$from, $from+1, …" for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + itoa(int64(from+i)))
	}
	return b.String()
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
