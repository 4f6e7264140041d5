// Package sqldbtest gives each test a fresh, migrated database: a temporary
// SQLite file always, and a PostgreSQL database cloned from a migrated template
// when EMPORIUM_TEST_POSTGRES_URL is set.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/testkit"
)

// PostgresURLEnv names the variable that points the tests at a PostgreSQL
// server, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const PostgresURLEnv = "EMPORIUM_TEST_POSTGRES_URL"

// Run runs fn once per available dialect as a subtest ("sqlite", "postgres"),
// each with a fresh database migrated with schemas.
func Run(t *testing.T, schemas []sqldb.Schema, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, schemas...)) })
	if PostgresURL() != "" || testkit.Required() {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, schemas...)) })
	}
}

// RunURL is Run for tests that open the database themselves (a service run
// through its runtime, several replicas on one database): fn gets the URL of
// a fresh, migrated database.
func RunURL(t *testing.T, schemas []sqldb.Schema, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t)) })
	if PostgresURL() != "" || testkit.Required() {
		t.Run("postgres", func(t *testing.T) { fn(t, PostgresDatabase(t, schemas...)) })
	}
}

// PostgresURL returns the PostgreSQL server the tests use, or "".
func PostgresURL() string { return os.Getenv(PostgresURLEnv) }

// NeedPostgres returns the PostgreSQL server of a test that runs on
// PostgreSQL only; without one the test is skipped, or fails where every
// component is required (testkit.Need).
func NeedPostgres(t testing.TB) string { return testkit.Need(t, PostgresURLEnv, "PostgreSQL") }

// SQLite returns a migrated database in a new temporary file, closed at cleanup.
func SQLite(t testing.TB, schemas ...sqldb.Schema) *sqldb.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	return open(t, "sqlite:"+path, schemas)
}

// SQLiteURL returns the URL of a new, empty SQLite database file.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

// Postgres returns a migrated database cloned from a template, dropped at
// cleanup. It fails the test when EMPORIUM_TEST_POSTGRES_URL is not set or the
// server does not answer.
func Postgres(t testing.TB, schemas ...sqldb.Schema) *sqldb.DB {
	t.Helper()
	return open(t, PostgresDatabase(t, schemas...), schemas)
}

// PostgresDatabase creates a migrated PostgreSQL database for the test and
// returns its URL, so that several handles (several service instances) can
// share it. The database is dropped at cleanup.
func PostgresDatabase(t testing.TB, schemas ...sqldb.Schema) string {
	t.Helper()
	admin := PostgresURL()
	if admin == "" {
		t.Fatalf("%s is not set", PostgresURLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tpl, err := template(ctx, admin, schemas)
	if err != nil {
		t.Fatalf("postgres template: %v", err)
	}
	name := "emporium_t_" + randomHex(8)
	if err := adminExec(ctx, admin, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tpl)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return withDatabase(admin, name)
}

func open(t testing.TB, rawURL string, schemas []sqldb.Schema) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqldb.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, schemas...); err != nil {
		t.Fatalf("migrate test database: %v", err)
	}
	return db
}

var (
	templatesMu sync.Mutex
	templates   = map[string]bool{}
)

// template returns the name of a PostgreSQL database migrated with schemas,
// creating it the first time. Its name carries a hash of the migrations, so a
// changed migration makes a new template; it is built under another name and
// renamed when complete, under an advisory lock, so concurrent test processes
// never clone a half-migrated template.
func template(ctx context.Context, admin string, schemas []sqldb.Schema) (string, error) {
	sum, err := hashSchemas(schemas)
	if err != nil {
		return "", err
	}
	name := "emporium_tpl_" + sum
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if templates[name] {
		return name, nil
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7428190)"); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(7428190)")
	var exists bool
	err = conn.QueryRowContext(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		return "", err
	}
	if !exists {
		building := name + "_" + randomHex(4)
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+building); err != nil {
			return "", err
		}
		if err := migrateAt(ctx, withDatabase(admin, building), schemas); err != nil {
			conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)")
			return "", err
		}
		if _, err := conn.ExecContext(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
			return "", err
		}
	}
	templates[name] = true
	return name, nil
}

func migrateAt(ctx context.Context, rawURL string, schemas []sqldb.Schema) error {
	db, err := sqldb.Open(ctx, rawURL)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Migrate(ctx, schemas...)
}

func hashSchemas(schemas []sqldb.Schema) (string, error) {
	h := sha256.New()
	for _, s := range schemas {
		fmt.Fprintf(h, "schema %s\n", s.Name)
		names, err := fs.Glob(s.FS, "*.sql")
		if err != nil {
			return "", err
		}
		sort.Strings(names)
		for _, n := range names {
			b, err := fs.ReadFile(s.FS, n)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "file %s %d\n", n, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func adminExec(ctx context.Context, admin, stmt string) error {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(fmt.Sprintf("sqldbtest: bad %s: %v", PostgresURLEnv, err))
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
