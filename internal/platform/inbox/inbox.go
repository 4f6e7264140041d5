// Package inbox makes event handling idempotent: a consumer records each event
// id it has applied in the same transaction as the effects of applying it, so
// a redelivered event is recognised and skipped.
package inbox

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Schema creates the inbox table. Migrate it beside the service's own schema.
var Schema = sqldb.Schema{Name: "inbox", FS: mustSub(migrations, "migrations")}

// Process applies env once for consumer: in one transaction it records
// (consumer, env.ID) and runs fn. When the event was already recorded it
// returns nil without calling fn. When fn fails, nothing is recorded, so a
// redelivery runs fn again.
//
// fn must keep its effects inside tx. An effect outside the database (an
// email, a call to another system) is recorded in tx with effect.Record and
// performed afterwards by an effect.Runner, which retries it until it is
// done. Do not perform it from tx.OnCommit: a crash between the commit and
// the hook loses it, and the redelivery that follows is skipped here as
// already applied. OnCommit suits only what may be lost, such as dropping a
// cache entry that expires anyway.
func Process(ctx context.Context, db *sqldb.DB, consumer string, env event.Envelope,
	fn func(tx *sqldb.Tx) error) error {
	if consumer == "" || env.ID == "" {
		return errors.New("inbox process: consumer and event id are required")
	}
	err := db.Tx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO inbox (consumer, event_id, processed_at)
			VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, consumer, env.ID, time.Now().UTC())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // applied before
		}
		return fn(tx)
	})
	if err != nil {
		return fmt.Errorf("inbox process %s %s: %w", consumer, env.ID, err)
	}
	return nil
}

// cleanupChunk bounds one delete, so SQLite's writer is never held for long.
const cleanupChunk = 1000

// Cleanup deletes the records of events processed more than retention ago and
// reports how many it deleted. Call it periodically; retention must outlast
// the time an event can still be redelivered (the stream's MaxAge, or at
// least the consumers' whole retry schedule plus the duplicate window).
func Cleanup(ctx context.Context, db *sqldb.DB, retention time.Duration) (int64, error) {
	cutoff := time.Now().UTC().Add(-retention)
	var total int64
	for {
		res, err := db.ExecContext(ctx, `DELETE FROM inbox WHERE (consumer, event_id) IN (
			SELECT consumer, event_id FROM inbox WHERE processed_at < $1 LIMIT $2)`,
			cutoff, cleanupChunk)
		if err != nil {
			return total, fmt.Errorf("inbox cleanup: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("inbox cleanup: %w", err)
		}
		total += n
		if n < cleanupChunk {
			return total, nil
		}
	}
}

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("inbox: " + err.Error())
	}
	return sub
}
