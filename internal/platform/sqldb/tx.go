package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"emporium/internal/platform/backoff"
)

// Tx is a transaction in progress. It embeds *sql.Tx for queries and adds
// hooks that run after a successful commit. On SQLite its QueryContext,
// QueryRowContext and ExecContext run the write pool's prepared statements.
type Tx struct {
	*sql.Tx
	dialect  Dialect
	onCommit []func()
	stmts    *stmtCache // the write pool's; nil on PostgreSQL
	missed   []string   // statements run unprepared, to prepare once the transaction ends
}

// cached returns query's prepared statement, in use until stmts.put, or nil
// when it has none yet (and notes it, to prepare it after the transaction).
func (tx *Tx) cached(query string) *cachedStmt {
	if tx.stmts == nil {
		return nil
	}
	s := tx.stmts.get(query)
	if s == nil && !slices.Contains(tx.missed, query) {
		tx.missed = append(tx.missed, query)
	}
	return s
}

// QueryContext runs a query in the transaction.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := tx.cached(query); s != nil {
		defer tx.stmts.put(s)
		return tx.StmtContext(ctx, s.stmt).QueryContext(ctx, args...)
	}
	return tx.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query of at most one row in the transaction.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := tx.cached(query); s != nil {
		defer tx.stmts.put(s)
		return tx.StmtContext(ctx, s.stmt).QueryRowContext(ctx, args...)
	}
	return tx.Tx.QueryRowContext(ctx, query, args...)
}

// ExecContext runs a statement in the transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := tx.cached(query); s != nil {
		defer tx.stmts.put(s)
		return tx.StmtContext(ctx, s.stmt).ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, query, args...)
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
	tx := &Tx{Tx: sqlTx, dialect: db.dialect, stmts: db.writeStmts}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	err = fn(tx)
	// The write connection is free again: prepare what the transaction ran
	// unprepared, for the next one.
	defer func() {
		for _, q := range tx.missed {
			db.writeStmts.prepare(ctx, q)
		}
	}()
	if err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	err = sqlTx.Commit()
	db.writes.Add(1) // after the commit: a reader that saw the old count may have read the old data
	if err != nil {
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
