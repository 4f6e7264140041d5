package payments

import (
	"context"
	"time"

	"emporium/internal/platform/sqldb"
)

// Refund is one refund of a payment.
type Refund struct {
	ID               string
	PaymentID        string
	RequestKey       string
	Amount           int64
	Reason           string
	Status           string // refundPending, refundSucceeded, refundFailed
	ProviderRefundID string
	Failure          string
	CreatedAt        time.Time
}

// Refund statuses.
const (
	refundPending   = "pending"
	refundSucceeded = "succeeded"
	refundFailed    = "failed"
)

const refundColumns = `id, payment_id, request_key, amount, reason, status,
	COALESCE(provider_refund_id, ''), failure, created_at`

// refundByKey returns the refund a request with this key made, or nil.
func refundByKey(ctx context.Context, tx *sqldb.Tx, paymentID, key string) (*Refund, error) {
	refunds, err := scanRefunds(ctx, tx, "SELECT "+refundColumns+
		" FROM refunds WHERE payment_id = $1 AND request_key = $2", paymentID, key)
	if err != nil || len(refunds) == 0 {
		return nil, err
	}
	return refunds[0], nil
}

// pendingRefunds returns a payment's refunds whose provider call has no
// recorded answer, oldest first.
func pendingRefunds(ctx context.Context, q querier, paymentID string) ([]*Refund, error) {
	return scanRefunds(ctx, q, "SELECT "+refundColumns+
		" FROM refunds WHERE payment_id = $1 AND status = $2 ORDER BY id", paymentID, refundPending)
}

// committedRefunds is the total of a payment's refunds that did not fail:
// what is refunded or on its way.
func committedRefunds(ctx context.Context, tx *sqldb.Tx, paymentID string) (int64, error) {
	var total int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM refunds
		WHERE payment_id = $1 AND status <> $2`, paymentID, refundFailed).Scan(&total)
	return total, err
}

// insertRefund stores a new, pending refund.
func insertRefund(ctx context.Context, tx *sqldb.Tx, r *Refund) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refunds (id, payment_id, request_key, amount, reason, status,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		r.ID, r.PaymentID, r.RequestKey, r.Amount, r.Reason, r.Status, r.CreatedAt)
	return err
}

// settleRefund records a pending refund's outcome, and reports whether it
// was still pending (a concurrent resume may have recorded it first).
func settleRefund(ctx context.Context, tx *sqldb.Tx, r *Refund, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE refunds SET status = $2, provider_refund_id = $3, failure = $4,
		updated_at = $5 WHERE id = $1 AND status = $6`,
		r.ID, r.Status, nullString(r.ProviderRefundID), r.Failure, now, refundPending)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func scanRefunds(ctx context.Context, q querier, query string, args ...any) ([]*Refund, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Refund
	for rows.Next() {
		var r Refund
		if err := rows.Scan(&r.ID, &r.PaymentID, &r.RequestKey, &r.Amount, &r.Reason, &r.Status,
			&r.ProviderRefundID, &r.Failure, &r.CreatedAt); err != nil {
			return nil, err
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, &r)
	}
	return out, rows.Err()
}
