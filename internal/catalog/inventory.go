package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
)

// Inventory returns a product's stock.
func (s *Service) Inventory(ctx context.Context, productID string) (*Inventory, error) {
	inv, err := inventoryOf(ctx, s.db, productID)
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", productID, err)
	}
	return inv, nil
}

// Adjust changes a product's stock on hand by delta, recording why. Stock on
// hand never falls below what is reserved.
func (s *Service) Adjust(ctx context.Context, productID string, delta int64, reason string) (*Inventory, error) {
	var inv *Inventory
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		inv, err = changeStockRechecked(ctx, tx, stockChange{productID: productID, onHand: delta,
			reason: reason, at: s.clock()})
		if errors.Is(err, errShort) {
			return insufficient([]ShortLine{{ProductID: productID, Requested: -delta, Available: inv.Available}})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("adjust inventory %s: %w", productID, err)
	}
	return inv, nil
}

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
