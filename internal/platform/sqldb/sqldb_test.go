package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

var testSchema = sqldb.Schema{Name: "sqldbtest", FS: fstest.MapFS{
	"00001_things.sql": {Data: []byte(`-- +goose Up
CREATE TABLE owners (id TEXT PRIMARY KEY);
CREATE TABLE things (
	id TEXT PRIMARY KEY,
	sku TEXT NOT NULL UNIQUE,
	owner_id TEXT REFERENCES owners (id),
	n INTEGER NOT NULL DEFAULT 0
);
-- +goose Down
DROP TABLE things;
DROP TABLE owners;
`)},
	"00002_dialect.postgres.sql": {Data: []byte(`-- +goose Up
CREATE TABLE dialect (name TEXT NOT NULL);
INSERT INTO dialect (name) VALUES ('postgres');
`)},
	"00002_dialect.sqlite.sql": {Data: []byte(`-- +goose Up
CREATE TABLE dialect (name TEXT NOT NULL);
INSERT INTO dialect (name) VALUES ('sqlite');
`)},
}}

func TestMigrateDialectFiles(t *testing.T) {
	sqldbtest.Run(t, []sqldb.Schema{testSchema}, func(t *testing.T, db *sqldb.DB) {
		var got string
		if err := db.QueryRowContext(context.Background(), "SELECT name FROM dialect").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := string(db.Dialect()); got != want {
			t.Errorf("dialect table says %q, want %q", got, want)
		}
		// Migrating again is a no-op.
		if err := db.Migrate(context.Background(), testSchema); err != nil {
			t.Errorf("second migrate: %v", err)
		}
	})
}

func TestTxCommitRollbackPanic(t *testing.T) {
	sqldbtest.Run(t, []sqldb.Schema{testSchema}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		committed := false
		err := db.Tx(ctx, func(tx *sqldb.Tx) error {
			tx.OnCommit(func() { committed = true })
			_, err := tx.ExecContext(ctx, "INSERT INTO things (id, sku) VALUES ($1, $2)", "a", "A")
			return err
		})
		if err != nil || !committed {
			t.Fatalf("commit: err %v, hook ran %v", err, committed)
		}

		errBoom := errors.New("boom")
		hookRan := false
		err = db.Tx(ctx, func(tx *sqldb.Tx) error {
			tx.OnCommit(func() { hookRan = true })
			if _, err := tx.ExecContext(ctx, "INSERT INTO things (id, sku) VALUES ('b', 'B')"); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) || hookRan {
			t.Fatalf("rollback: err %v, hook ran %v", err, hookRan)
		}

		func() {
			defer func() {
				if p := recover(); p != "kaboom" {
					t.Errorf("recovered %v, want the panic to continue", p)
				}
			}()
			db.Tx(ctx, func(tx *sqldb.Tx) error {
				tx.ExecContext(ctx, "INSERT INTO things (id, sku) VALUES ('c', 'C')")
				panic("kaboom")
			})
		}()

		var ids []string
		rows, err := db.QueryContext(ctx, "SELECT id FROM things ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		if got, want := strings.Join(ids, ","), "a"; got != want {
			t.Errorf("rows after commit, rollback and panic = %q, want %q", got, want)
		}
	})
}

func TestConstraintTranslation(t *testing.T) {
	sqldbtest.Run(t, []sqldb.Schema{testSchema}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		insert := func(id, sku string, owner any) error {
			return db.Tx(ctx, func(tx *sqldb.Tx) error {
				_, err := tx.ExecContext(ctx,
					"INSERT INTO things (id, sku, owner_id) VALUES ($1, $2, $3)", id, sku, owner)
				return err
			})
		}
		if err := insert("1", "X", nil); err != nil {
			t.Fatal(err)
		}
		err := insert("2", "X", nil)
		if !errors.Is(err, sqldb.ErrUnique) || !sqldb.IsUnique(err, "sku") || sqldb.IsUnique(err, "id") {
			t.Errorf("duplicate sku: got %v, want a unique violation on sku", err)
		}
		if got := errs.KindOf(err); got != errs.Conflict {
			t.Errorf("duplicate sku kind = %v, want conflict", got)
		}
		if err := insert("1", "Y", nil); !sqldb.IsUnique(err, "id") {
			t.Errorf("duplicate id: got %v, want a unique violation on id", err)
		}
		err = insert("3", "Z", "nobody")
		if !errors.Is(err, sqldb.ErrForeignKey) {
			t.Errorf("missing owner: got %v, want a foreign-key violation", err)
		}
		// Outside a transaction too.
		_, err = db.ExecContext(ctx, "INSERT INTO things (id, sku) VALUES ('4', 'X')")
		if !sqldb.IsUnique(err, "sku") {
			t.Errorf("ExecContext duplicate: got %v", err)
		}
	})
}

// TestConcurrentWriters: many goroutines doing read-modify-write transactions
// never see "database is locked" and never lose an update.
func TestConcurrentWriters(t *testing.T) {
	sqldbtest.Run(t, []sqldb.Schema{testSchema}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "INSERT INTO things (id, sku) VALUES ('c', 'C')"); err != nil {
			t.Fatal(err)
		}
		const writers, each = 50, 10
		var wg sync.WaitGroup
		errc := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					errc <- db.Tx(ctx, func(tx *sqldb.Tx) error {
						var n int
						q := "SELECT n FROM things WHERE id = 'c'"
						if tx.Dialect() == sqldb.Postgres {
							q += " FOR UPDATE"
						}
						if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, "UPDATE things SET n = $1 WHERE id = 'c'", n+1)
						if err != nil {
							return err
						}
						_, err = tx.ExecContext(ctx, "INSERT INTO things (id, sku) VALUES ($1, $1)",
							fmt.Sprintf("w%d-%d", w, i))
						return err
					})
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
		}
		var n int
		db.QueryRowContext(ctx, "SELECT n FROM things WHERE id = 'c'").Scan(&n)
		if n != writers*each {
			t.Errorf("counter = %d, want %d", n, writers*each)
		}
	})
}

// TestSerializationRetry: serializable transactions that collide on PostgreSQL
// are re-run, so every increment lands.
func TestSerializationRetry(t *testing.T) {
	sqldbtest.NeedPostgres(t)
	db := sqldbtest.Postgres(t, testSchema)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "INSERT INTO things (id, sku) VALUES ('s', 'S')"); err != nil {
		t.Fatal(err)
	}
	const workers = 8
	var wg sync.WaitGroup
	var attempts sync.Map
	// Every first attempt reads before any writes, so the transactions collide.
	var allRead sync.WaitGroup
	allRead.Add(workers)
	errc := make(chan error, workers)
	opts := &sql.TxOptions{Isolation: sql.LevelSerializable}
	for w := range workers {
		wg.Go(func() {
			errc <- db.TxOptions(ctx, opts, func(tx *sqldb.Tx) error {
				n, _ := attempts.LoadOrStore(w, new(int))
				*n.(*int)++
				var v int
				if err := tx.QueryRowContext(ctx, "SELECT n FROM things WHERE id = 's'").Scan(&v); err != nil {
					return err
				}
				if *n.(*int) == 1 {
					allRead.Done()
					allRead.Wait()
				}
				_, err := tx.ExecContext(ctx, "UPDATE things SET n = $1 WHERE id = 's'", v+1)
				return err
			})
		})
	}
	wg.Wait()
	close(errc)
	failed := 0
	for err := range errc {
		if err != nil {
			failed++
			t.Logf("worker gave up: %v", err)
		}
	}
	var v, retried int
	db.QueryRowContext(ctx, "SELECT n FROM things WHERE id = 's'").Scan(&v)
	attempts.Range(func(_, n any) bool {
		if *n.(*int) > 1 {
			retried++
		}
		return true
	})
	if v != workers-failed {
		t.Errorf("counter = %d, want %d (one per successful worker)", v, workers-failed)
	}
	if retried == 0 {
		t.Errorf("no transaction was retried; the test did not exercise serialization failures")
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	_, err := sqldb.Open(context.Background(), "mysql://root:secret@localhost/x")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("got %v, want an error that hides the password", err)
	}
}

// TestUnreachableIsUnavailable: a database that cannot be reached, or does not
// answer before the deadline, is an Unavailable error (503 with Retry-After),
// not an internal one.
func TestUnreachableIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := sqldb.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Unavailable || e.RetryAfter <= 0 {
		t.Errorf("closed port: got %v, want Unavailable with a Retry-After", err)
	}
	if got := errs.KindOf(sqldb.Translate(context.DeadlineExceeded)); got != errs.Unavailable {
		t.Errorf("deadline: kind %v, want unavailable", got)
	}
	if got := errs.KindOf(sqldb.Translate(errors.New("syntax error"))); got != errs.Other {
		t.Errorf("other errors: kind %v, want other", got)
	}
}
