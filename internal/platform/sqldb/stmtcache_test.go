package sqldb

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"emporium/internal/platform/testkit"
)

// openSQLiteTest opens a SQLite database in a temporary directory with one
// table of n rows.
func openSQLiteTest(t testing.TB, n int) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
			return err
		}
		for i := range n {
			_, err := tx.ExecContext(ctx, "INSERT INTO kv (k, v) VALUES ($1, $2)", "k"+strconv.Itoa(i), i)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestStmtCacheReusesStatements: a query run again outside a transaction,
// from many goroutines at once, is prepared once and answers right every
// time; the cache holds one statement per text.
func TestStmtCacheReusesStatements(t *testing.T) {
	ctx := context.Background()
	db := openSQLiteTest(t, 50)
	const query = "SELECT v FROM kv WHERE k = $1"
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				want := (g*200 + i) % 50
				var got int
				if err := db.QueryRowContext(ctx, query, "k"+strconv.Itoa(want)).Scan(&got); err != nil {
					errc <- err
					return
				}
				if got != want {
					errc <- fmt.Errorf("k%d = %d", want, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if _, ok := db.readStmts.stmts[query]; !ok || db.readStmts.len() != 1 {
		t.Errorf("the read cache holds %d statements, and the query: %v; want just the query",
			db.readStmts.len(), ok)
	}
}

// TestStmtCacheInTransaction: a transaction's first run of a statement goes
// unprepared and prepares it once the transaction ends; the next transaction
// runs the prepared statement on its own connection, so it sees its own
// uncommitted writes, and a rollback undoes writes made through it.
func TestStmtCacheInTransaction(t *testing.T) {
	ctx := context.Background()
	db := openSQLiteTest(t, 0)
	const insert, count = "INSERT INTO kv (k, v) VALUES ($1, $2)", "SELECT count(*) FROM kv WHERE v >= $1"
	db.writeStmts.close() // forget what openSQLiteTest prepared
	for round := range 3 {
		prepared := db.writeStmts.len() == 2
		if want := round > 0; prepared != want {
			t.Fatalf("round %d: both statements prepared = %v, want %v", round, prepared, want)
		}
		err := db.Tx(ctx, func(tx *Tx) error {
			if _, err := tx.ExecContext(ctx, insert, "r"+strconv.Itoa(round), 100+round); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, count, 100).Scan(&n); err != nil {
				return err
			}
			if n != round+1 {
				return fmt.Errorf("the transaction counts %d rows, want %d", n, round+1)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	errRollback := fmt.Errorf("roll back")
	err := db.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, insert, "gone", 200); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("rollback: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, count, 100).Scan(&n); err != nil || n != 3 {
		t.Errorf("after the rollback: %d rows (%v), want 3", n, err)
	}
}

// TestStmtCacheEviction: the cache stays within its bound, and a statement
// evicted while its rows are open still reads them to the end.
func TestStmtCacheEviction(t *testing.T) {
	ctx := context.Background()
	db := openSQLiteTest(t, 10)
	db.readStmts.max = 4
	rows, err := db.QueryContext(ctx, "SELECT k FROM kv ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		var v int
		err := db.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = $1 AND "+strconv.Itoa(i)+" = "+
			strconv.Itoa(i), "k3").Scan(&v)
		if err != nil || v != 3 {
			t.Fatalf("query %d: %d, %v", i, v, err)
		}
	}
	if n := db.readStmts.len(); n > 4 {
		t.Errorf("the cache holds %d statements, bound 4", n)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 10 {
		t.Errorf("the first query's rows: %d, %v; want 10", n, err)
	}
	rows.Close()
}

// TestPostgresCachesStatements: Open keeps pgx's statement cache on, so a
// query run twice on one connection is prepared there once.
func TestPostgresCachesStatements(t *testing.T) {
	// sqldbtest.NeedPostgres, which this package's own tests cannot import.
	url := testkit.Need(t, "EMPORIUM_TEST_POSTGRES_URL", "PostgreSQL")
	ctx := context.Background()
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.pg.DefaultQueryExecMode; got != pgx.QueryExecModeCacheStatement {
		t.Errorf("the pool's query mode is %v, want QueryExecModeCacheStatement", got)
	}
	conn, err := db.read.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const query = "SELECT $1::int + 41 AS answer_of_stmt_cache_test"
	for range 3 {
		var n int
		if err := conn.QueryRowContext(ctx, query, 1).Scan(&n); err != nil || n != 42 {
			t.Fatalf("query: %d, %v", n, err)
		}
	}
	var prepared int
	err = conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
		query).Scan(&prepared)
	if err != nil || prepared != 1 {
		t.Errorf("the connection holds %d prepared statements of the query (%v), want 1", prepared, err)
	}
}

// BenchmarkQueryRow reads one row by key on SQLite through the statement
// cache, and straight from the pool, which prepares it every time.
func BenchmarkQueryRow(b *testing.B) {
	ctx := context.Background()
	db := openSQLiteTest(b, 100)
	const query = `SELECT k, v FROM kv WHERE k IN ($1, $2) ORDER BY k`
	run := func(b *testing.B, scan func(i int) error) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := scan(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("cached", func(b *testing.B) {
		run(b, func(i int) error {
			var k string
			var v int
			return db.QueryRowContext(ctx, query, "k"+strconv.Itoa(i%100), "k1").Scan(&k, &v)
		})
	})
	b.Run("unprepared", func(b *testing.B) {
		run(b, func(i int) error {
			var k string
			var v int
			return db.read.QueryRowContext(ctx, query, "k"+strconv.Itoa(i%100), "k1").Scan(&k, &v)
		})
	})
}
