package chaos

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ReadSnapshot reads the shop's state from the services' databases
// (databases: each service's URL), straight from PostgreSQL: a test
// harness may.
func ReadSnapshot(ctx context.Context, databases map[string]string) (Snapshot, error) {
	s := Snapshot{Stock: map[string]Stock{}, Reservations: map[string]Reservation{},
		Orders: map[string]Order{}, Charges: map[string][]Charge{}, PaidEvents: map[string][]string{},
		Notified: map[string]int{}}
	for _, step := range []struct {
		service string
		read    func(context.Context, *pgx.Conn, *Snapshot) error
	}{{"catalog", readCatalog}, {"orders", readOrders}, {"payments", readPayments},
		{"notifications", readNotifications}} {
		conn, err := pgx.Connect(ctx, databases[step.service])
		if err != nil {
			return s, fmt.Errorf("%s database: %w", step.service, err)
		}
		err = step.read(ctx, conn, &s)
		conn.Close(ctx)
		if err != nil {
			return s, fmt.Errorf("read %s: %w", step.service, err)
		}
	}
	return s, nil
}

// each runs query and calls scan for every row.
func each(ctx context.Context, conn *pgx.Conn, query string, scan func(pgx.Rows) error) error {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func readCatalog(ctx context.Context, conn *pgx.Conn, s *Snapshot) error {
	// One transaction, repeatable read: the rows and the ledger as of one moment.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	c := tx.Conn()
	err = each(ctx, c, `SELECT i.product_id, i.on_hand, i.reserved,
			COALESCE((SELECT SUM(on_hand_delta) FROM inventory_ledger l WHERE l.product_id = i.product_id), 0),
			COALESCE((SELECT SUM(reserved_delta) FROM inventory_ledger l WHERE l.product_id = i.product_id), 0),
			COALESCE((SELECT SUM(rl.quantity) FROM reservation_lines rl JOIN reservations r
				ON r.id = rl.reservation_id WHERE r.status = 'held' AND rl.product_id = i.product_id), 0)
		FROM inventory i`, func(rows pgx.Rows) error {
		var id string
		var st Stock
		if err := rows.Scan(&id, &st.OnHand, &st.Reserved, &st.LedgerOnHand, &st.LedgerReserved, &st.Held); err != nil {
			return err
		}
		s.Stock[id] = st
		return nil
	})
	if err != nil {
		return err
	}
	return each(ctx, c, `SELECT r.id, r.status, rl.product_id, rl.quantity
		FROM reservations r JOIN reservation_lines rl ON rl.reservation_id = r.id`, func(rows pgx.Rows) error {
		var id, status, product string
		var n int64
		if err := rows.Scan(&id, &status, &product, &n); err != nil {
			return err
		}
		r, ok := s.Reservations[id]
		if !ok {
			r = Reservation{Status: status, Lines: map[string]int64{}}
		}
		r.Lines[product] += n
		s.Reservations[id] = r
		return nil
	})
}

func readOrders(ctx context.Context, conn *pgx.Conn, s *Snapshot) error {
	err := each(ctx, conn, `SELECT o.id, o.customer_id, o.idempotency_key, o.status, o.total,
			EXISTS (SELECT 1 FROM order_status_history h WHERE h.order_id = o.id AND h.status = 'paid')
		FROM orders o`, func(rows pgx.Rows) error {
		var id string
		o := Order{Lines: map[string]int64{}}
		if err := rows.Scan(&id, &o.Customer, &o.Key, &o.Status, &o.Total, &o.WasPaid); err != nil {
			return err
		}
		s.Orders[id] = o
		return nil
	})
	if err != nil {
		return err
	}
	err = each(ctx, conn, "SELECT order_id, product_id, quantity FROM order_lines", func(rows pgx.Rows) error {
		var id, product string
		var n int64
		if err := rows.Scan(&id, &product, &n); err != nil {
			return err
		}
		if o, ok := s.Orders[id]; ok {
			o.Lines[product] += n
		}
		return nil
	})
	if err != nil {
		return err
	}
	return each(ctx, conn, "SELECT event_id, payload FROM outbox WHERE subject = 'orders.order.paid'",
		func(rows pgx.Rows) error {
			var id, payload string
			if err := rows.Scan(&id, &payload); err != nil {
				return err
			}
			var env struct {
				Data struct {
					OrderID string `json:"order_id"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(payload), &env); err != nil {
				return fmt.Errorf("outbox event %s: %w", id, err)
			}
			s.PaidEvents[env.Data.OrderID] = append(s.PaidEvents[env.Data.OrderID], id)
			return nil
		})
}

func readPayments(ctx context.Context, conn *pgx.Conn, s *Snapshot) error {
	return each(ctx, conn, "SELECT id, object FROM sandbox_intents", func(rows pgx.Rows) error {
		var id, object string
		if err := rows.Scan(&id, &object); err != nil {
			return err
		}
		var pi struct {
			AmountReceived int64             `json:"amount_received"`
			AmountRefunded int64             `json:"amount_refunded"`
			Metadata       map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(object), &pi); err != nil {
			return fmt.Errorf("sandbox intent %s: %w", id, err)
		}
		order := pi.Metadata["order_id"]
		s.Charges[order] = append(s.Charges[order], Charge{IntentID: id, Received: pi.AmountReceived,
			Refunded: pi.AmountRefunded})
		return nil
	})
}

func readNotifications(ctx context.Context, conn *pgx.Conn, s *Snapshot) error {
	return each(ctx, conn, `SELECT event_id, COUNT(*) FROM deliveries
		WHERE event_type = 'orders.order.paid' AND channel = 'email' GROUP BY event_id`,
		func(rows pgx.Rows) error {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			s.Notified[id] = n
			return nil
		})
}
