package orders

import (
	"context"
	"database/sql"
	"time"

	"emporium/internal/platform/sqldb"
)

// keyRecord is an Idempotency-Key record.
type keyRecord struct {
	customerID, key string
	requestHash     string
	orderID         string
	lockedUntil     time.Time // zero: not locked
	status          int       // 0 while there is no response to replay
	body            []byte
	createdAt       time.Time
}

// keyRecordByKey reads a record; nil when there is none. In a PostgreSQL
// transaction it locks the row.
func keyRecordByKey(ctx context.Context, q querier, customerID, key string) (*keyRecord, error) {
	query := `SELECT request_hash, order_id, locked_until, response_status, response_body, created_at
		FROM idempotency_keys WHERE customer_id = $1 AND key = $2`
	if tx, ok := q.(*sqldb.Tx); ok && tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE"
	}
	rows, err := q.QueryContext(ctx, query, customerID, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	r := &keyRecord{customerID: customerID, key: key}
	var locked sql.NullTime
	var status sql.NullInt64
	var body sql.NullString
	if err := rows.Scan(&r.requestHash, &r.orderID, &locked, &status, &body, &r.createdAt); err != nil {
		return nil, err
	}
	if locked.Valid {
		r.lockedUntil = locked.Time.UTC()
	}
	r.status, r.body, r.createdAt = int(status.Int64), []byte(body.String), r.createdAt.UTC()
	return r, rows.Err()
}

// insertKeyRecord claims a key; sqldb.ErrUnique when another request did first.
func insertKeyRecord(ctx context.Context, tx *sqldb.Tx, r *keyRecord) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (customer_id, key, request_hash,
		order_id, locked_until, response_status, response_body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.customerID, r.key, r.requestHash, r.orderID,
		nullTime(r.lockedUntil), sql.NullInt64{Int64: int64(r.status), Valid: r.status != 0},
		sql.NullString{String: string(r.body), Valid: r.status != 0}, r.createdAt)
	return err
}

// deleteKeyRecord forgets a key (expired, or its checkout gave up unanswered).
func deleteKeyRecord(ctx context.Context, tx *sqldb.Tx, customerID, key string) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM idempotency_keys WHERE customer_id = $1 AND key = $2",
		customerID, key)
	return err
}

// lockKeyRecord takes over a record without a response whose lock is free
// (released, or run out before now) until lockedUntil; false when it was not
// free.
func lockKeyRecord(ctx context.Context, tx *sqldb.Tx, customerID, key string, lockedUntil,
	now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_until = $3
		WHERE customer_id = $1 AND key = $2 AND response_status IS NULL
		AND (locked_until IS NULL OR locked_until < $4)`, customerID, key, lockedUntil, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// unlockKeyRecord releases the lock of a request that failed without an
// answer to keep (a 5xx), so that a retry may take it over at once.
func unlockKeyRecord(ctx context.Context, db *sqldb.DB, customerID, key string) error {
	_, err := db.ExecContext(ctx, `UPDATE idempotency_keys SET locked_until = NULL
		WHERE customer_id = $1 AND key = $2 AND response_status IS NULL`, customerID, key)
	return err
}

// respondKeyRecord keeps the answer of the request under a key for replays
// and releases its lock. It keeps only the first answer.
func respondKeyRecord(ctx context.Context, tx *sqldb.Tx, customerID, key string, status int,
	body []byte) error {
	_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET response_status = $3,
		response_body = $4, locked_until = NULL
		WHERE customer_id = $1 AND key = $2 AND response_status IS NULL`,
		customerID, key, status, string(body))
	return err
}

// cleanupChunk bounds one delete, so SQLite's writer is never held for long.
const cleanupChunk = 1000

// deleteExpiredKeys deletes up to cleanupChunk records created before cutoff
// and reports how many it deleted.
func deleteExpiredKeys(ctx context.Context, db *sqldb.DB, cutoff time.Time) (int64, error) {
	res, err := db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (customer_id, key) IN (
		SELECT customer_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`,
		cutoff, cleanupChunk)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
