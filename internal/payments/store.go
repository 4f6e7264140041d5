package payments

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"emporium/internal/platform/sqldb"
)

// querier reads, in a transaction or not.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const paymentColumns = `id, order_id, customer_id, provider, COALESCE(intent_id, ''), client_secret,
	amount, currency, status, failure_code, refunded, attempts, COALESCE(pending_method, ''), provider_at,
	created_at, updated_at`

// insertPayment stores a new payment.
func insertPayment(ctx context.Context, tx *sqldb.Tx, p *Payment, checkAt time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payments (id, order_id, customer_id, provider, intent_id,
		client_secret, amount, currency, status, provider_at, check_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, NULL, '', $5, $6, $7, $8, $9, $10, $10)`,
		p.ID, p.OrderID, p.CustomerID, p.Provider, p.Amount.Amount, p.Amount.Currency, p.Status,
		p.ProviderAt, checkAt, p.CreatedAt)
	return err
}

// updatePayment writes what may change of a payment (never its amount) and
// when the reconciler looks at it next: at nextCheck (or when it was due
// already) while something is unsettled — no PaymentIntent yet, a confirm
// attempt without its answer, a pending refund, or a status the provider
// is still deciding — and never otherwise.
func updatePayment(ctx context.Context, tx *sqldb.Tx, p *Payment, nextCheck time.Time) error {
	unsettled := p.IntentID == "" || p.PendingMethod != "" || p.Status == Processing ||
		p.Status == RequiresAction
	_, err := tx.ExecContext(ctx, `UPDATE payments SET intent_id = $2, client_secret = $3, status = $4,
		failure_code = $5, refunded = $6, attempts = $7, pending_method = $8, provider_at = $9, updated_at = $10,
		check_at = CASE WHEN $11 OR EXISTS (SELECT 1 FROM refunds r
			WHERE r.payment_id = payments.id AND r.status = 'pending')
			THEN COALESCE(check_at, $12) ELSE NULL END
		WHERE id = $1`,
		p.ID, nullString(p.IntentID), p.ClientSecret, p.Status, p.FailureCode, p.Refunded, p.Attempts,
		nullString(p.PendingMethod), p.ProviderAt, p.UpdatedAt, unsettled, nextCheck)
	return err
}

// paymentByID reads a payment.
func paymentByID(ctx context.Context, q querier, id string) (*Payment, error) {
	return onePayment(ctx, q, "SELECT "+paymentColumns+" FROM payments WHERE id = $1", id)
}

// paymentByOrder reads an order's payment.
func paymentByOrder(ctx context.Context, q querier, orderID string) (*Payment, error) {
	return onePayment(ctx, q, "SELECT "+paymentColumns+" FROM payments WHERE order_id = $1", orderID)
}

// paymentForUpdate reads a payment and locks it until tx ends (PostgreSQL;
// SQLite's transaction holds the one writer).
func paymentForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (*Payment, error) {
	query := "SELECT " + paymentColumns + " FROM payments WHERE id = $1"
	if tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE"
	}
	return onePayment(ctx, tx, query, id)
}

// paymentForEvent finds the payment a provider's PaymentIntent is about, and
// locks it: by the PaymentIntent's id, else by the ids we put in its
// metadata (payment_id, then order_id).
func paymentForEvent(ctx context.Context, tx *sqldb.Tx, in Intent) (*Payment, error) {
	lock := ""
	if tx.Dialect() == sqldb.Postgres {
		lock = " FOR UPDATE"
	}
	lookups := []struct{ column, value string }{
		{"intent_id", in.ID}, {"id", in.Metadata["payment_id"]}, {"order_id", in.Metadata["order_id"]},
	}
	for _, l := range lookups {
		if l.value == "" {
			continue
		}
		p, err := onePayment(ctx, tx, "SELECT "+paymentColumns+" FROM payments WHERE "+l.column+" = $1"+lock, l.value)
		if !errors.Is(err, ErrNotFound) {
			return p, err
		}
	}
	return nil, ErrNotFound
}

func onePayment(ctx context.Context, q querier, query string, args ...any) (*Payment, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, errors.Join(rows.Err(), ErrNotFound)
	}
	var p Payment
	if err := rows.Scan(&p.ID, &p.OrderID, &p.CustomerID, &p.Provider, &p.IntentID, &p.ClientSecret,
		&p.Amount.Amount, &p.Amount.Currency, &p.Status, &p.FailureCode, &p.Refunded, &p.Attempts,
		&p.PendingMethod, &p.ProviderAt, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, rows.Err()
}

// recordFailure records that a declined attempt was announced, and reports
// whether it is new.
func recordFailure(ctx context.Context, tx *sqldb.Tx, paymentID, attemptRef, code string,
	now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO payment_failures (payment_id, attempt_ref, failure_code,
		created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, paymentID, attemptRef, code, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// recordWebhookEvent records a Stripe event id, and reports whether it is
// new (false: processed before).
func recordWebhookEvent(ctx context.Context, tx *sqldb.Tx, id, typ string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (event_id, type, received_at)
		VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, id, typ, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// forgetWebhookEvents deletes up to limit event ids received before cutoff
// and reports how many it deleted.
func forgetWebhookEvents(ctx context.Context, db *sqldb.DB, cutoff time.Time, limit int) (int64, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM webhook_events WHERE event_id IN (
		SELECT event_id FROM webhook_events WHERE received_at < $1 LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// duePayments returns up to limit payments whose check is due at now, with
// the check time each was read with, earliest first.
func duePayments(ctx context.Context, db *sqldb.DB, now time.Time, limit int) ([]dueCheck, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, check_at FROM payments WHERE check_at <= $1
		ORDER BY check_at, id LIMIT $2`, now, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var due []dueCheck
	for rows.Next() {
		var d dueCheck
		if err := rows.Scan(&d.id, &d.at); err != nil {
			return nil, err
		}
		due = append(due, d)
	}
	return due, rows.Err()
}

// dueCheck is a payment the reconciler is to look at.
type dueCheck struct {
	id string
	at time.Time
}

// claimCheck moves a due check to next, and reports whether this caller did
// it: of several replicas, one claims each check.
func claimCheck(ctx context.Context, db *sqldb.DB, d dueCheck, next time.Time) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE payments SET check_at = $3 WHERE id = $1 AND check_at = $2`,
		d.id, d.at, next)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
