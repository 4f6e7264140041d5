// Package sqldb opens PostgreSQL and SQLite databases behind one small API,
// runs embedded migrations, and runs transactions as closures.
//
// The same $1-style SQL runs on both. On SQLite, writes go through a single
// connection (transactions begin IMMEDIATE) and reads through a pool of
// read-only connections, so concurrent writers queue instead of failing with
// "database is locked". Times are written from Go, in UTC, as parameters.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"emporium/internal/platform/redact"
)

// Dialect names the SQL dialect of a database.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is a database handle. For PostgreSQL, reads and writes share one pool; for
// SQLite they use separate pools over the same file.
type DB struct {
	dialect Dialect
	write   *sql.DB
	read    *sql.DB
	// pg is the PostgreSQL connection configuration, from which migrations
	// get a pool of their own.
	pg *pgx.ConnConfig
	// readStmts and writeStmts keep SQLite's prepared statements; nil on
	// PostgreSQL, where pgx keeps them on each connection.
	readStmts, writeStmts *stmtCache
	// writes counts the transactions and statements run on the write side
	// (see Writes).
	writes atomic.Uint64
}

// PoolConfig sizes and bounds a PostgreSQL pool; SQLite ignores it. A zero
// field takes its default. A setting that the URL's query already names
// (?statement_timeout=5000) keeps the URL's value.
type PoolConfig struct {
	// MaxConns bounds the pool's open connections; 25.
	MaxConns int
	// ConnMaxLifetime closes a connection this long after it was opened, so
	// that connections move over to a failed-over or rebalanced server; 30m.
	ConnMaxLifetime time.Duration
	// StatementTimeout is each session's statement_timeout: the server
	// cancels a statement that runs longer; 30s. Migrations run without it.
	StatementTimeout time.Duration
	// IdleInTxTimeout is each session's idle_in_transaction_session_timeout:
	// the server ends a session whose open transaction has waited on its
	// client longer, and so frees its locks. A client that died or lost the
	// network mid-transaction would otherwise keep them until TCP gives up on
	// it, about two hours by default; 1m. Migrations run without it.
	IdleInTxTimeout time.Duration
}

// The defaults of PoolConfig.
const (
	defaultMaxConns         = 25
	defaultConnMaxLifetime  = 30 * time.Minute
	defaultStatementTimeout = 30 * time.Second
	defaultIdleInTxTimeout  = time.Minute
)

func (p PoolConfig) withDefaults() PoolConfig {
	if p.MaxConns <= 0 {
		p.MaxConns = defaultMaxConns
	}
	if p.ConnMaxLifetime <= 0 {
		p.ConnMaxLifetime = defaultConnMaxLifetime
	}
	if p.StatementTimeout <= 0 {
		p.StatementTimeout = defaultStatementTimeout
	}
	if p.IdleInTxTimeout <= 0 {
		p.IdleInTxTimeout = defaultIdleInTxTimeout
	}
	return p
}

// Open connects to a database given as postgres://… (or postgresql://…) or
// sqlite:<path>, and checks that it answers. A PostgreSQL pool takes the
// defaults of PoolConfig.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	return OpenPool(ctx, rawURL, PoolConfig{})
}

// OpenPool is Open with a PostgreSQL pool configured by pool.
func OpenPool(ctx context.Context, rawURL string, pool PoolConfig) (*DB, error) {
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(rawURL, pool.withDefaults())
	case strings.HasPrefix(rawURL, "sqlite:"):
		db, err = openSQLite(strings.TrimPrefix(rawURL, "sqlite:"))
	default:
		return nil, fmt.Errorf("open database: want a postgres:// or sqlite: URL, got %q",
			redact.URL(rawURL))
	}
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", redact.URL(rawURL), Translate(err))
	}
	return db, nil
}

// sessionDefaults are the server settings every PostgreSQL session starts
// with unless the URL names them, besides the pool's timeouts. The TCP
// keepalives have the server notice a vanished client within about two
// minutes rather than two hours, and give its connection slot back.
var sessionDefaults = map[string]string{
	"tcp_keepalives_idle":     "60",
	"tcp_keepalives_interval": "10",
	"tcp_keepalives_count":    "6",
}

func openPostgres(rawURL string, pool PoolConfig) (*DB, error) {
	// A database that does not answer must fail a request, not hang it.
	if u, err := url.Parse(rawURL); err == nil && !u.Query().Has("connect_timeout") {
		q := u.Query()
		q.Set("connect_timeout", "5")
		u.RawQuery = q.Encode()
		rawURL = u.String()
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redact.URL(rawURL),
			redact.Error(err, rawURL))
	}
	// cfg.DefaultQueryExecMode is pgx's QueryExecModeCacheStatement unless
	// the URL names another (default_query_exec_mode): each connection
	// prepares a statement the first time it runs it and keeps it, up to
	// cfg.StatementCacheCapacity (512) statements, so PostgreSQL parses and
	// plans a query once per connection. database/sql's queries through
	// stdlib use that mode too.
	// Sent in the startup message, so they hold from a session's first
	// statement, without a round trip of their own.
	params := maps.Clone(sessionDefaults)
	params["statement_timeout"] = milliseconds(pool.StatementTimeout)
	params["idle_in_transaction_session_timeout"] = milliseconds(pool.IdleInTxTimeout)
	for k, v := range params {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pool.MaxConns)
	db.SetMaxIdleConns(pool.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(pool.ConnMaxLifetime)
	return &DB{dialect: Postgres, write: db, read: db, pg: cfg}, nil
}

// milliseconds formats d as a PostgreSQL setting in milliseconds, at least 1
// (0 would turn the setting off).
func milliseconds(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}

// sqlitePragmas apply to every connection. WAL lets readers run beside the one
// writer; synchronous FULL makes a commit durable before it returns.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"

// sqliteReadPragmas apply to the read pool's connections. mmap_size maps up
// to 1 GiB of the database file, so that a read of a page that is not in the
// connection's own cache (2 MB) is a memory access in the operating system's
// page cache, shared by every connection, instead of a read system call and a
// copy: a walk of an index that looks up a few hundred products, each on a
// page of its own, cost 3–4 ms read by read and 0.6–0.8 ms mapped (100,000
// products, catalog text search). Past 1 GiB SQLite reads the rest as before.
// The writer reads as before: with it mapped too, the write-heavy all-in-one
// measured no better and mostly worse per checkout in A/B runs of
// `emporium-bench` (noisy: 15.5–25.6 ms of CPU either way).
const sqliteReadPragmas = "&_pragma=query_only(1)&_pragma=mmap_size(1073741824)"

func openSQLite(path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, errors.New("open database: sqlite needs a file path (sqlite:<path>)")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + sqlitePragmas
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database sqlite:%s: %w", path, err)
	}
	// One writer: SQLite allows a single writer at a time, and queueing in the
	// pool is what keeps "database is locked" from reaching callers.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite", dsn+sqliteReadPragmas)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open database sqlite:%s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return &DB{dialect: SQLite, write: write, read: read,
		readStmts: newStmtCache(read), writeStmts: newStmtCache(write)}, nil
}

// Dialect reports which SQL dialect the database speaks.
func (db *DB) Dialect() Dialect { return db.dialect }

// Ping checks that the database answers, on the write side first.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return Translate(err)
	}
	if db.read != db.write {
		return Translate(db.read.PingContext(ctx))
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() error {
	if db.readStmts != nil {
		db.readStmts.close()
		db.writeStmts.close()
	}
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// QueryContext runs a read-only query outside a transaction, as a prepared
// statement that is kept for the next run.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	var rows *sql.Rows
	var err error
	if db.readStmts != nil {
		rows, err = db.readStmts.query(ctx, query, args)
	} else {
		rows, err = db.read.QueryContext(ctx, query, args...)
	}
	return rows, Translate(err)
}

// QueryRowContext runs a read-only query that returns at most one row, as a
// prepared statement that is kept for the next run.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *Row {
	if db.readStmts != nil {
		return &Row{row: db.readStmts.queryRow(ctx, query, args)}
	}
	return &Row{row: db.read.QueryRowContext(ctx, query, args...)}
}

// ExecContext runs one statement in its own transaction on the write side,
// as a prepared statement that is kept for the next run.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	var err error
	if db.writeStmts != nil {
		res, err = db.writeStmts.exec(ctx, query, args)
	} else {
		res, err = db.write.ExecContext(ctx, query, args...)
	}
	db.writes.Add(1)
	return res, Translate(err)
}

// Writes counts the transactions that have committed through Tx (or tried
// to: a commit that failed may still have written; one rolled back does not
// count) and the statements run through ExecContext, each once it has ended. On SQLite, when this handle is
// the only one that writes its file — as each service's is in one process —
// an unchanged count means unchanged data: a cache of what was read may keep
// the count it read before reading, and trust the entry while the count
// stays the same. Writes through Writer are not counted.
func (db *DB) Writes() uint64 { return db.writes.Load() }

// Writer returns the pool that writes go through, for tools (migrations) that
// need a *sql.DB. Prefer Tx.
func (db *DB) Writer() *sql.DB { return db.write }

// Row is the result of QueryRowContext; Scan translates constraint errors.
type Row struct{ row *sql.Row }

// Scan copies the row's columns into dest; it returns sql.ErrNoRows when there is no row.
func (r *Row) Scan(dest ...any) error { return Translate(r.row.Scan(dest...)) }
