package sqldb_test

import (
	"context"
	"net/url"
	"testing"
	"testing/fstest"
	"time"

	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

func postgresOnly(t *testing.T) {
	t.Helper()
	sqldbtest.NeedPostgres(t)
}

func openPool(t *testing.T, rawURL string, pool sqldb.PoolConfig) *sqldb.DB {
	t.Helper()
	db, err := sqldb.OpenPool(t.Context(), rawURL, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func show(t *testing.T, db *sqldb.DB, setting string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "SHOW "+setting).Scan(&v); err != nil {
		t.Fatalf("show %s: %v", setting, err)
	}
	return v
}

// Every session of a pool starts with the pool's timeouts and short TCP
// keepalives, unless the URL names a setting, and the pool has its size.
func TestPoolSessionSettings(t *testing.T) {
	t.Parallel()
	postgresOnly(t)
	dbURL := sqldbtest.PostgresDatabase(t)
	db := openPool(t, dbURL, sqldb.PoolConfig{MaxConns: 7, StatementTimeout: 1500 * time.Millisecond,
		IdleInTxTimeout: 2 * time.Second})
	for setting, want := range map[string]string{
		"statement_timeout":                   "1500ms",
		"idle_in_transaction_session_timeout": "2s",
		"tcp_keepalives_idle":                 "60",
	} {
		if got := show(t, db, setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if got := db.Writer().Stats().MaxOpenConnections; got != 7 {
		t.Errorf("max open connections = %d, want 7", got)
	}

	defaults := openPool(t, dbURL, sqldb.PoolConfig{})
	if got := show(t, defaults, "idle_in_transaction_session_timeout"); got != "1min" {
		t.Errorf("default idle_in_transaction_session_timeout = %q, want 1min", got)
	}

	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("statement_timeout", "5000")
	u.RawQuery = q.Encode()
	named := openPool(t, u.String(), sqldb.PoolConfig{StatementTimeout: time.Second})
	if got := show(t, named, "statement_timeout"); got != "5s" {
		t.Errorf("statement_timeout named in the URL = %q, want 5s", got)
	}
}

// A client that took a lock in a transaction and then went silent loses it
// once the transaction has been idle for IdleInTxTimeout, so that others can
// take it; without the timeout it would hold it until TCP gave up on it.
func TestIdleTransactionLosesItsLocks(t *testing.T) {
	t.Parallel()
	postgresOnly(t)
	dbURL := sqldbtest.PostgresDatabase(t)
	stalled := openPool(t, dbURL, sqldb.PoolConfig{IdleInTxTimeout: 300 * time.Millisecond})
	other := openPool(t, dbURL, sqldb.PoolConfig{})
	const key = 424242

	tx, err := stalled.Writer().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	var locked bool
	if err := tx.QueryRowContext(t.Context(), "SELECT pg_try_advisory_xact_lock($1)",
		key).Scan(&locked); err != nil || !locked {
		t.Fatalf("take the lock: %v, %v", locked, err)
	}
	// The transaction now waits on its client, which never comes back.
	tryLock := func() bool {
		var ok bool
		err := other.Tx(t.Context(), func(tx *sqldb.Tx) error {
			return tx.QueryRowContext(t.Context(), "SELECT pg_try_advisory_xact_lock($1)",
				key).Scan(&ok)
		})
		if err != nil {
			t.Fatalf("try the lock: %v", err)
		}
		return ok
	}
	testkit.Eventually(t, 30*time.Second, tryLock, "the lock of an idle transaction was kept")
}

// Migrations run without the pool's statement timeout: a migration may take
// longer than any request should.
func TestMigrationsRunWithoutStatementTimeout(t *testing.T) {
	t.Parallel()
	postgresOnly(t)
	db := openPool(t, sqldbtest.PostgresDatabase(t), sqldb.PoolConfig{
		StatementTimeout: 50 * time.Millisecond})
	slow := sqldb.Schema{Name: "slow", FS: fstest.MapFS{
		"00001_slow.sql": {Data: []byte("-- +goose Up\nSELECT pg_sleep(0.3);\n")},
	}}
	if err := db.Migrate(t.Context(), slow); err != nil {
		t.Errorf("migrate: %v", err)
	}
	if _, err := db.ExecContext(t.Context(), "SELECT pg_sleep(0.3)"); err == nil {
		t.Error("a statement outside migrations outlived the statement timeout")
	}
}

// A connection is replaced once it is older than ConnMaxLifetime.
func TestPoolReplacesOldConnections(t *testing.T) {
	t.Parallel()
	postgresOnly(t)
	db := openPool(t, sqldbtest.PostgresDatabase(t), sqldb.PoolConfig{
		ConnMaxLifetime: 50 * time.Millisecond})
	testkit.Eventually(t, 30*time.Second, func() bool {
		if err := db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db.Writer().Stats().MaxLifetimeClosed > 0
	}, "no connection was closed for its age")
}
