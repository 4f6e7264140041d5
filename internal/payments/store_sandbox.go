package payments

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"emporium/internal/platform/sqldb"
)

// The sandbox provider's SQL: its own tables, which nothing else reads.

// sandboxReplay returns the answer stored for key, if any. A key stored for
// another request is refused, as Stripe refuses it.
func sandboxReplay(ctx context.Context, tx *sqldb.Tx, key, request string) (*sandboxIntent, bool, error) {
	var stored, response string
	err := tx.QueryRowContext(ctx, `SELECT request, response FROM sandbox_requests WHERE idempotency_key = $1`,
		key).Scan(&stored, &response)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if stored != request {
		return nil, false, fmt.Errorf("sandbox: idempotency key %s was used for another request: %w", key, errRefused)
	}
	var pi sandboxIntent
	if err := json.Unmarshal([]byte(response), &pi); err != nil {
		return nil, false, err
	}
	return &pi, true, nil
}

// sandboxIntentForUpdate reads a PaymentIntent, locked until tx ends on
// PostgreSQL (SQLite's transaction holds the one writer).
func sandboxIntentForUpdate(ctx context.Context, tx *sqldb.Tx, id string) (*sandboxIntent, error) {
	query := "SELECT object FROM sandbox_intents WHERE id = $1"
	if tx.Dialect() == sqldb.Postgres {
		query += " FOR UPDATE"
	}
	rows, err := tx.QueryContext(ctx, query, id)
	if err != nil {
		return nil, err
	}
	return scanSandboxIntent(rows)
}

// sandboxIntentByID reads a PaymentIntent.
func sandboxIntentByID(ctx context.Context, db *sqldb.DB, id string) (*sandboxIntent, error) {
	rows, err := db.QueryContext(ctx, "SELECT object FROM sandbox_intents WHERE id = $1", id)
	if err != nil {
		return nil, err
	}
	return scanSandboxIntent(rows)
}

func scanSandboxIntent(rows *sql.Rows) (*sandboxIntent, error) {
	defer rows.Close()
	if !rows.Next() {
		return nil, errors.Join(rows.Err(), errSandboxNoIntent)
	}
	var object string
	if err := rows.Scan(&object); err != nil {
		return nil, err
	}
	var pi sandboxIntent
	if err := json.Unmarshal([]byte(object), &pi); err != nil {
		return nil, err
	}
	return &pi, rows.Err()
}

// saveSandboxCall stores a PaymentIntent's new state (a new one when
// created) and the answer given for key.
func saveSandboxCall(ctx context.Context, tx *sqldb.Tx, key, request string, pi *sandboxIntent,
	created bool, now time.Time) error {
	object, err := json.Marshal(pi)
	if err != nil {
		return err
	}
	at := sqldb.Time(now)
	if created {
		_, err = tx.ExecContext(ctx, `INSERT INTO sandbox_intents (id, status, object, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4)`, pi.ID, pi.Status, string(object), at)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE sandbox_intents SET status = $2, object = $3, updated_at = $4
			WHERE id = $1`, pi.ID, pi.Status, string(object), at)
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO sandbox_requests (idempotency_key, request, response, created_at)
		VALUES ($1, $2, $3, $4)`, key, request, string(object), at)
	return err
}

// sandboxProcessing returns the ids of the PaymentIntents left processing.
func sandboxProcessing(ctx context.Context, db *sqldb.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT id FROM sandbox_intents WHERE status = $1 ORDER BY id", Processing)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
