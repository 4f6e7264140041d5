package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
		// Back off with jitter so the transactions that collided do not collide again.
		d := time.Duration(attempt*attempt)*5*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-ctx.Done():
			return Translate(err)
		case <-time.After(d):
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
