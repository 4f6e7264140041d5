package catalog

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
)

// inventoryOf reads a product's stock.
func inventoryOf(ctx context.Context, q querier, productID string) (*Inventory, error) {
	rows, err := q.QueryContext(ctx, "SELECT on_hand, reserved FROM inventory WHERE product_id = $1", productID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, errors.Join(rows.Err(), ErrProductNotFound)
	}
	inv := &Inventory{ProductID: productID}
	if err := rows.Scan(&inv.OnHand, &inv.Reserved); err != nil {
		return nil, err
	}
	inv.Available = inv.OnHand - inv.Reserved
	return inv, rows.Err()
}

// stockChange is one change of a product's stock and why.
type stockChange struct {
	productID     string
	onHand        int64 // delta of on_hand
	reserved      int64 // delta of reserved
	reason        string
	reservationID string
	at            time.Time
}

// errShort says a change would leave on_hand below reserved (or below zero).
var errShort = errors.New("not enough stock")

// changeStock applies c in one conditional statement — the row's lock makes it
// safe against every concurrent change on any replica — records it in the
// ledger, and announces availability crossing zero. It returns errShort when
// the stock does not allow it.
func changeStock(ctx context.Context, tx *sqldb.Tx, c stockChange) (*Inventory, error) {
	inv := &Inventory{ProductID: c.productID}
	err := tx.QueryRowContext(ctx, `UPDATE inventory SET on_hand = on_hand + $2, reserved = reserved + $3,
		updated_at = $4
		WHERE product_id = $1 AND on_hand + $2 >= reserved + $3 AND reserved + $3 >= 0
		RETURNING on_hand, reserved`, c.productID, c.onHand, c.reserved, c.at).Scan(&inv.OnHand, &inv.Reserved)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := inventoryOf(ctx, tx, c.productID); err != nil {
			return nil, err // no such product
		}
		return nil, errShort
	}
	if err != nil {
		return nil, err
	}
	inv.Available = inv.OnHand - inv.Reserved
	_, err = tx.ExecContext(ctx, `INSERT INTO inventory_ledger (id, product_id, on_hand_delta, reserved_delta,
		reason, reservation_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		uuid.Must(uuid.NewV7()).String(), c.productID, c.onHand, c.reserved, c.reason,
		sql.NullString{String: c.reservationID, Valid: c.reservationID != ""}, c.at)
	if err != nil {
		return nil, err
	}
	before := inv.Available - (c.onHand - c.reserved)
	if (before > 0) != (inv.Available > 0) {
		env, err := event.New(event.StockChanged, event.CatalogSource, event.StockLevel{
			ProductID: c.productID, Available: inv.Available, InStock: inv.Available > 0})
		if err != nil {
			return nil, err
		}
		if err := outbox.Add(ctx, tx, env); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

// changeStockRechecked is changeStock for a change that may take stock: when
// the conditional update finds too little, it judged the row as of its
// statement's snapshot, and on PostgreSQL (read committed) a release that
// committed since may have freed enough. So it locks the row, reads it as it
// stands now, and applies the change if that allows it. With errShort it
// returns the stock it read under the lock, which holds until the transaction
// ends, so what a caller reports as available is really short.
func changeStockRechecked(ctx context.Context, tx *sqldb.Tx, c stockChange) (*Inventory, error) {
	inv, err := changeStock(ctx, tx, c)
	if !errors.Is(err, errShort) {
		return inv, err
	}
	query := "SELECT on_hand, reserved FROM inventory WHERE product_id = $1"
	if tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE" // SQLite's transaction already holds the one write lock
	}
	cur := &Inventory{ProductID: c.productID}
	if err := tx.QueryRowContext(ctx, query, c.productID).Scan(&cur.OnHand, &cur.Reserved); err != nil {
		return nil, err
	}
	cur.Available = cur.OnHand - cur.Reserved
	if cur.OnHand+c.onHand < cur.Reserved+c.reserved || cur.Reserved+c.reserved < 0 {
		return cur, errShort
	}
	return changeStock(ctx, tx, c)
}

// insertReservation claims r's id with an empty hold.
func insertReservation(ctx context.Context, tx *sqldb.Tx, r *Reservation) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO reservations (id, status, expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4)`, r.ID, r.Status, r.ExpiresAt, r.CreatedAt)
	return err
}

// insertReservationLine records one held line of a reservation.
func insertReservationLine(ctx context.Context, tx *sqldb.Tx, reservationID string, l Line) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO reservation_lines (reservation_id, product_id, quantity)
		VALUES ($1, $2, $3)`, reservationID, l.ProductID, l.Quantity)
	return err
}

// setReservationStatus moves a reservation from one status to another, and
// reports whether it was in from (else nothing changed).
func setReservationStatus(ctx context.Context, tx *sqldb.Tx, id, from, to string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE reservations SET status = $3, updated_at = $4
		WHERE id = $1 AND status = $2`, id, from, to, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// reservationByID reads a reservation with its lines, in product id order.
func reservationByID(ctx context.Context, q querier, id string) (*Reservation, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.status, r.expires_at, r.created_at, r.updated_at,
		l.product_id, l.quantity
		FROM reservations r LEFT JOIN reservation_lines l ON l.reservation_id = r.id
		WHERE r.id = $1 ORDER BY l.product_id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var r *Reservation
	for rows.Next() {
		if r == nil {
			r = &Reservation{ID: id, Items: []Line{}}
		}
		var pid sql.NullString
		var qty sql.NullInt64
		if err := rows.Scan(&r.Status, &r.ExpiresAt, &r.CreatedAt, &r.UpdatedAt, &pid, &qty); err != nil {
			return nil, err
		}
		if pid.Valid {
			r.Items = append(r.Items, Line{ProductID: pid.String, Quantity: qty.Int64})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, ErrReservationGone
	}
	r.ExpiresAt, r.CreatedAt, r.UpdatedAt = r.ExpiresAt.UTC(), r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

// productStatuses returns the status of each known product among items.
func productStatuses(ctx context.Context, tx *sqldb.Tx, items []Line) (map[string]string, error) {
	ids := make([]any, len(items))
	for i, l := range items {
		ids[i] = l.ProductID
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, status FROM products WHERE id IN ("+placeholders(1, len(ids))+")", ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, err
		}
		out[id] = status
	}
	return out, rows.Err()
}

// expiredHold is a hold whose time is up, and the sweeper's place in the
// walk of them.
type expiredHold struct {
	id        string
	expiresAt time.Time
}

// expiredHolds returns up to limit holds that expired before now, in expiry
// order (then id), starting after the hold after when it is not nil.
func expiredHolds(ctx context.Context, q querier, now time.Time, after *expiredHold,
	limit int) ([]expiredHold, error) {
	query := "SELECT id, expires_at FROM reservations WHERE status = $1 AND expires_at < $2"
	args := []any{Held, now, limit}
	if after != nil {
		query += " AND (expires_at > $4 OR (expires_at = $4 AND id > $5))"
		args = append(args, after.expiresAt, after.id)
	}
	rows, err := q.QueryContext(ctx, query+" ORDER BY expires_at, id LIMIT $3", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var holds []expiredHold
	for rows.Next() {
		var h expiredHold
		if err := rows.Scan(&h.id, &h.expiresAt); err != nil {
			return nil, err
		}
		h.expiresAt = h.expiresAt.UTC()
		holds = append(holds, h)
	}
	return holds, rows.Err()
}
