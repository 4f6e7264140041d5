package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"emporium/internal/platform/backoff"
)

// Tx is a transaction in progress. It embeds *sql.Tx for queries and adds
// hooks that run after a successful commit.
type Tx struct {
	*sql.Tx
	dialect  Dialect
	onCommit []func()
}

// Dialect reports which SQL dialect the transaction speaks.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// OnCommit registers f to run after the transaction commits. It does not run on
// rollback, nor for an attempt that is retried.
func (tx *Tx) OnCommit(f func()) { tx.onCommit = append(tx.onCommit, f) }

// maxAttempts bounds the retries of a transaction that PostgreSQL aborted for
// a serialization failure or a deadlock.
const maxAttempts = 5

// retryBackoff spaces those retries with full jitter, so that the
// transactions that collided do not collide again.
var retryBackoff = backoff.Policy{Initial: 10 * time.Millisecond, Max: 200 * time.Millisecond,
	Jitter: 1}

// Tx runs fn in a transaction. It commits when fn returns nil and rolls back
// when fn returns an error or panics (the panic continues). A PostgreSQL
// serialization failure or deadlock re-runs fn from the start, so fn must not
// have effects outside the transaction; use OnCommit for those.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	return db.TxOptions(ctx, nil, fn)
}

// TxOptions is Tx with explicit options, such as an isolation level.
func (db *DB) TxOptions(ctx context.Context, opts *sql.TxOptions, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.tx(ctx, opts, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return Translate(err)
		}
		if !backoff.Sleep(ctx, retryBackoff.Delay(attempt)) {
			return Translate(err)
		}
	}
}

func (db *DB) tx(ctx context.Context, opts *sql.TxOptions, fn func(tx *Tx) error) (err error) {
	sqlTx, err := db.write.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{Tx: sqlTx, dialect: db.dialect}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range tx.onCommit {
		f()
	}
	return nil
}

// retryable reports whether err is a PostgreSQL serialization failure or deadlock.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}
