package cart

import (
	"cmp"
	"context"
	"database/sql"
	"maps"
	"slices"
	"time"

	"emporium/internal/platform/sqldb"
)

// querier is what both *sqldb.DB (reads) and *sqldb.Tx offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// cartQuery reads a cart and its lines in one query, where the condition on
// carts (alias c) follows each of its two parts: a row of the cart's
// columns, and one row per line, in no order, of the line's. The columns of
// the other kind are NULL: a cart's columns, repeated on every line, would
// be decoded on every line (its times parsed from text on SQLite).
func cartQuery(where string) string {
	return `SELECT c.id, COALESCE(c.customer_id, ''), c.created_at, c.updated_at,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM carts c WHERE ` + where + `
	UNION ALL SELECT NULL, NULL, NULL, NULL, l.product_id, l.quantity, l.position, l.sku, l.name,
	l.price_amount, l.price_currency FROM carts c JOIN cart_lines l ON l.cart_id = c.id WHERE ` + where
}

// cartWhere reads the one cart a condition on carts (alias c) names, with
// its lines; nil when there is none. In a transaction on PostgreSQL it
// first locks the cart's row until the transaction ends, so that writers of
// one cart queue and each reads what the one before wrote; SQLite's
// transaction already holds the one write lock.
//
// The lock is a statement of its own: a SELECT … FOR UPDATE that waited for
// the lock re-reads the locked row once it is free, but not the rows it
// joins, which it would answer as they were before the other writer
// committed. The lines are read by the next statement, which sees them as
// that writer left them.
func cartWhere(ctx context.Context, q querier, where string, args ...any) (*cart, error) {
	if tx, ok := q.(*sqldb.Tx); ok && tx.Dialect() == sqldb.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT c.id FROM carts c WHERE "+where+" FOR UPDATE", args...); err != nil {
			return nil, err
		}
	}
	// The lines are put in order here: ORDER BY would have SQLite sort them
	// in a temporary B-tree on every read.
	rows, err := q.QueryContext(ctx, cartQuery(where), args...)
	if err != nil {
		return nil, err
	}
	var c cart
	found := false
	// One variable for every row, and one allocation: each field escapes
	// to Scan.
	var r struct {
		id, customerID             sql.RawBytes
		createdAt, updatedAt       sql.NullTime
		productID, sku, name       sql.NullString
		currency                   sql.NullString
		quantity, position, amount sql.NullInt64
	}
	for rows.Next() {
		if err := rows.Scan(&r.id, &r.customerID, &r.createdAt, &r.updatedAt, &r.productID,
			&r.quantity, &r.position, &r.sku, &r.name, &r.amount, &r.currency); err != nil {
			rows.Close()
			return nil, err
		}
		if !r.productID.Valid {
			found = true
			c.id, c.customerID = string(r.id), string(r.customerID)
			c.createdAt, c.updatedAt = r.createdAt.Time.UTC(), r.updatedAt.Time.UTC()
			continue
		}
		if c.lines == nil {
			c.lines = make([]line, 0, 16) // most carts, in one allocation
		}
		c.lines = append(c.lines, line{productID: r.productID.String, quantity: int(r.quantity.Int64),
			position: int(r.position.Int64), seen: seen{sku: r.sku.String, name: r.name.String,
				price: Money{Amount: r.amount.Int64, Currency: r.currency.String}}})
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	if !found {
		return nil, nil
	}
	slices.SortStableFunc(c.lines, func(a, b line) int { return cmp.Compare(a.position, b.position) })
	return &c, nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// customerCart reads a customer's cart; nil when they have none.
func customerCart(ctx context.Context, q querier, customerID string) (*cart, error) {
	return cartWhere(ctx, q, "c.customer_id = $1", customerID)
}

// guestCart reads the guest cart whose token hashes to hash, unless its last
// change was before since (it has expired); nil when there is none.
func guestCart(ctx context.Context, q querier, hash string, since time.Time) (*cart, error) {
	return cartWhere(ctx, q, "c.token_hash = $1 AND c.updated_at >= $2", hash, since)
}

// ensureCustomerCart makes c the customer's cart unless they have one.
func ensureCustomerCart(ctx context.Context, tx *sqldb.Tx, c *cart) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO carts (id, customer_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO NOTHING`,
		c.id, c.customerID, c.createdAt, c.updatedAt)
	return err
}

// insertGuestCart writes a new guest cart named by the token hash.
func insertGuestCart(ctx context.Context, tx *sqldb.Tx, c *cart, hash string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO carts (id, token_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4)`, c.id, hash, c.createdAt, c.updatedAt)
	return err
}

// saveCart writes what changed from old to c: the lines added, changed and
// removed, and the time of the change.
func saveCart(ctx context.Context, tx *sqldb.Tx, old, c *cart) error {
	before := make(map[string]line, len(old.lines))
	for _, l := range old.lines {
		before[l.productID] = l
	}
	for _, l := range c.lines {
		if b, ok := before[l.productID]; ok && b == l {
			delete(before, l.productID)
			continue
		}
		delete(before, l.productID)
		if err := upsertLine(ctx, tx, c.id, l); err != nil {
			return err
		}
	}
	for _, productID := range slices.Sorted(maps.Keys(before)) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM cart_lines WHERE cart_id = $1 AND product_id = $2",
			c.id, productID); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, "UPDATE carts SET updated_at = $2 WHERE id = $1", c.id, c.updatedAt)
	return err
}

func upsertLine(ctx context.Context, tx *sqldb.Tx, cartID string, l line) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cart_lines (cart_id, product_id, quantity, position, sku,
		name, price_amount, price_currency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity,
		position = excluded.position, sku = excluded.sku, name = excluded.name,
		price_amount = excluded.price_amount, price_currency = excluded.price_currency`,
		cartID, l.productID, l.quantity, l.position, l.seen.sku, l.seen.name,
		l.seen.price.Amount, l.seen.price.Currency)
	return err
}

// deleteCart deletes a cart and its lines.
func deleteCart(ctx context.Context, tx *sqldb.Tx, id string) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM carts WHERE id = $1", id)
	return err
}

// storeSeen stores what the catalog said of a cart's products, for the
// reads that cannot reach it. A line removed meanwhile is left alone; the
// cart's updated_at is too, since the customer changed nothing. On
// PostgreSQL it holds the cart's row first, like every change of the cart,
// so that lines are always locked after their cart.
func storeSeen(ctx context.Context, tx *sqldb.Tx, cartID string, lines []line) error {
	if tx.Dialect() == sqldb.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT id FROM carts WHERE id = $1 FOR UPDATE", cartID); err != nil {
			return err
		}
	}
	for _, l := range lines {
		if _, err := tx.ExecContext(ctx, `UPDATE cart_lines SET sku = $3, name = $4, price_amount = $5,
			price_currency = $6 WHERE cart_id = $1 AND product_id = $2`,
			cartID, l.productID, l.seen.sku, l.seen.name, l.seen.price.Amount, l.seen.price.Currency); err != nil {
			return err
		}
	}
	return nil
}

// deleteExpiredGuests deletes up to limit guest carts whose last change was
// before cutoff, and reports how many. The condition is repeated outside the
// sub-select so that on PostgreSQL a cart changed while the statement waited
// for its row is re-checked, and kept.
func deleteExpiredGuests(ctx context.Context, db *sqldb.DB, cutoff time.Time, limit int) (int64, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM carts WHERE token_hash IS NOT NULL AND updated_at < $1
		AND id IN (SELECT id FROM carts WHERE token_hash IS NOT NULL AND updated_at < $1
		ORDER BY updated_at LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
