package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"emporium/internal/platform/sqldb"
)

// querier is what reads need: a database or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// nextNumber allocates an order number without locking any table: a
// PostgreSQL sequence, or SQLite's AUTOINCREMENT (under its one writer).
func nextNumber(ctx context.Context, tx *sqldb.Tx) (string, error) {
	var n int64
	if tx.Dialect() == sqldb.Postgres {
		if err := tx.QueryRowContext(ctx, "SELECT nextval('order_numbers')").Scan(&n); err != nil {
			return "", err
		}
	} else {
		err := tx.QueryRowContext(ctx, "INSERT INTO order_numbers DEFAULT VALUES RETURNING n").Scan(&n)
		if err != nil {
			return "", err
		}
		// The highest number stays in sqlite_sequence; the row is not needed.
		if _, err := tx.ExecContext(ctx, "DELETE FROM order_numbers WHERE n = $1", n); err != nil {
			return "", err
		}
	}
	return "EMP-" + strconv.FormatInt(n, 10), nil
}

// insertOrder writes a new order with its lines and history.
func insertOrder(ctx context.Context, tx *sqldb.Tx, o *Order) error {
	addr, err := json.Marshal(o.address)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO orders (id, number, customer_id, status, step,
		idempotency_key, currency, subtotal, shipping, total, shipping_address, tracking_number,
		payment_id, payment_due_at, lease_until, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		o.id, o.number, o.customerID, o.status, o.step, o.idempotencyKey, o.total.Currency,
		o.subtotal.Amount, o.shipping.Amount, o.total.Amount, string(addr), null(o.trackingNumber),
		null(o.paymentID), nullTime(o.paymentDueAt), o.leaseUntil, o.createdAt, o.updatedAt)
	if err != nil {
		return err
	}
	for i, l := range o.lines {
		_, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, position, product_id, sku,
			name, unit_price, quantity, line_total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			o.id, i, l.ProductID, l.SKU, l.Name, l.UnitPrice.Amount, l.Quantity, l.LineTotal.Amount)
		if err != nil {
			return err
		}
	}
	return insertHistory(ctx, tx, o, 0)
}

// insertHistory writes the order's history entries from index from on.
func insertHistory(ctx context.Context, tx *sqldb.Tx, o *Order, from int) error {
	for i := from; i < len(o.history); i++ {
		h := o.history[i]
		_, err := tx.ExecContext(ctx, `INSERT INTO order_status_history (order_id, seq, status,
			reason, at) VALUES ($1, $2, $3, $4, $5)`, o.id, i+1, h.Status, h.Reason, h.At)
		if err != nil {
			return err
		}
	}
	return nil
}

// updateOrder writes the order's changed state, and the history entries
// added since it was read (it had before of them). The update is conditional
// on the status it was read with, so a change made meanwhile by another
// transaction (on SQLite, where reads do not lock) is never overwritten:
// it reports false then and writes nothing.
func updateOrder(ctx context.Context, tx *sqldb.Tx, o *Order, readStatus string,
	before int) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE orders SET status = $2, step = $3, tracking_number = $4,
		payment_id = $5, payment_due_at = $6, lease_until = $7, updated_at = $8
		WHERE id = $1 AND status = $9`, o.id, o.status, o.step, null(o.trackingNumber),
		null(o.paymentID), nullTime(o.paymentDueAt), o.leaseUntil, o.updatedAt, readStatus)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	return true, insertHistory(ctx, tx, o, before)
}

// setStep records the checkout's progress from one step to the next and
// renews the saga's lease; false when the order was not at from.
func setStep(ctx context.Context, tx *sqldb.Tx, id, from, to string, leaseUntil,
	now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE orders SET step = $3, lease_until = $4, updated_at = $5
		WHERE id = $1 AND step = $2 AND status = 'checkout'`, id, from, to, leaseUntil, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// claimCheckout takes the lease of a checkout whose lease ran out, for its
// driver until leaseUntil, counting an attempt; false when it was not free.
func claimCheckout(ctx context.Context, db *sqldb.DB, id string, leaseUntil,
	now time.Time) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE orders SET lease_until = $2,
		saga_attempts = saga_attempts + 1
		WHERE id = $1 AND status = 'checkout' AND lease_until < $3`, id, leaseUntil, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// releaseCheckout shortens the lease of a checkout whose driver gave up on
// it for now to until, so that the recovery worker takes it soon after.
func releaseCheckout(ctx context.Context, db *sqldb.DB, id string, until time.Time) error {
	_, err := db.ExecContext(ctx, `UPDATE orders SET lease_until = $2
		WHERE id = $1 AND status = 'checkout' AND lease_until > $2`, id, until)
	return err
}

// orderColumns are what scanOrder reads, in order.
const orderColumns = `o.id, o.number, o.customer_id, o.status, o.step, o.idempotency_key,
	o.currency, o.subtotal, o.shipping, o.total, o.shipping_address, o.tracking_number,
	o.payment_id, o.payment_due_at, o.lease_until, o.created_at, o.updated_at`

func scanOrder(rows *sql.Rows) (*Order, error) {
	o := &Order{}
	var currency, addr string
	var tracking, paymentID sql.NullString
	var due sql.NullTime
	if err := rows.Scan(&o.id, &o.number, &o.customerID, &o.status, &o.step, &o.idempotencyKey,
		&currency, &o.subtotal.Amount, &o.shipping.Amount, &o.total.Amount, &addr, &tracking,
		&paymentID, &due, &o.leaseUntil, &o.createdAt, &o.updatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(addr), &o.address); err != nil {
		return nil, err
	}
	o.subtotal.Currency, o.shipping.Currency, o.total.Currency = currency, currency, currency
	o.trackingNumber, o.paymentID = tracking.String, paymentID.String
	if due.Valid {
		o.paymentDueAt = due.Time.UTC()
	}
	o.leaseUntil, o.createdAt, o.updatedAt = o.leaseUntil.UTC(), o.createdAt.UTC(), o.updatedAt.UTC()
	return o, nil
}

// orderByID reads an order with its lines and history; ErrNotFound when
// there is none. In a PostgreSQL transaction it locks the row until the
// transaction ends (SQLite's transaction holds the one writer already).
func orderByID(ctx context.Context, q querier, id string) (*Order, error) {
	query := "SELECT " + orderColumns + " FROM orders o WHERE o.id = $1"
	if tx, ok := q.(*sqldb.Tx); ok && tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE"
	}
	found, err := readOrders(ctx, q, query, id)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, ErrNotFound
	}
	return found[0], nil
}

// readOrders runs a query of orderColumns and fills in the lines and
// history of the orders it returns.
func readOrders(ctx context.Context, q querier, query string, args ...any) ([]*Order, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var list []*Order
	byID := map[string]*Order{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, o)
		byID[o.id] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(list) == 0 {
		return list, err
	}
	ids := make([]any, len(list))
	for i, o := range list {
		ids[i] = o.id
	}
	in := placeholders(len(ids))
	rows, err = q.QueryContext(ctx, `SELECT order_id, product_id, sku, name, unit_price, quantity,
		line_total FROM order_lines WHERE order_id IN (`+in+`) ORDER BY order_id, position`, ids...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var l Line
		if err := rows.Scan(&id, &l.ProductID, &l.SKU, &l.Name, &l.UnitPrice.Amount, &l.Quantity,
			&l.LineTotal.Amount); err != nil {
			rows.Close()
			return nil, err
		}
		o := byID[id]
		l.UnitPrice.Currency, l.LineTotal.Currency = o.total.Currency, o.total.Currency
		o.lines = append(o.lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT order_id, status, reason, at FROM order_status_history
		WHERE order_id IN (`+in+`) ORDER BY order_id, seq`, ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var h StatusChange
		if err := rows.Scan(&id, &h.Status, &h.Reason, &h.At); err != nil {
			return nil, err
		}
		h.At = h.At.UTC()
		byID[id].history = append(byID[id].history, h)
	}
	for _, o := range list {
		if o.lines == nil {
			o.lines = []Line{}
		}
		if o.history == nil {
			o.history = []StatusChange{}
		}
	}
	return list, rows.Err()
}

// listFilter selects a list of placed orders.
type listFilter struct {
	customerID string // "" for every customer
	status     string // "" for every status
	limit      int
	after      *listCursor
}

// listCursor is the sort keys of the last order of a page: newest first,
// ties by id ascending.
type listCursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"id"`
}

// listOrders returns up to f.limit+1 placed orders, newest first.
func listOrders(ctx context.Context, q querier, f listFilter) ([]*Order, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.customerID != "" {
		where = append(where, "o.customer_id = "+arg(f.customerID))
	}
	if f.status != "" {
		where = append(where, "o.status = "+arg(f.status))
	} else {
		where = append(where, "o.status NOT IN ('checkout', 'failed')")
	}
	if f.after != nil {
		t, id := arg(f.after.CreatedAt), arg(f.after.ID)
		where = append(where, "(o.created_at < "+t+" OR (o.created_at = "+t+" AND o.id > "+id+"))")
	}
	query := "SELECT " + orderColumns + " FROM orders o WHERE " + strings.Join(where, " AND ") +
		" ORDER BY o.created_at DESC, o.id LIMIT " + arg(f.limit+1)
	return readOrders(ctx, q, query, args...)
}

// dueCheckouts returns the ids of up to limit checkouts whose lease ran out
// before now, the longest-waiting first.
func dueCheckouts(ctx context.Context, q querier, now time.Time, limit int) ([]string, error) {
	return ids(ctx, q, `SELECT id FROM orders WHERE status = 'checkout' AND lease_until < $1
		ORDER BY lease_until LIMIT $2`, now, limit)
}

// overdueOrders returns the ids of up to limit orders still unpaid at now
// whose payment window has closed, the longest-overdue first.
func overdueOrders(ctx context.Context, q querier, now time.Time, limit int) ([]string, error) {
	return ids(ctx, q, `SELECT id FROM orders WHERE status = 'pending_payment'
		AND payment_due_at < $1 ORDER BY payment_due_at LIMIT $2`, now, limit)
}

func ids(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(i+1)
	}
	return strings.Join(ps, ", ")
}

func null(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }
