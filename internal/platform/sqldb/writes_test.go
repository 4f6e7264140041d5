package sqldb_test

import (
	"context"
	"errors"
	"testing"

	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// Writes counts every committed transaction and every ExecContext; a
// transaction rolled back and a read do not count.
func TestWrites(t *testing.T) {
	sqldbtest.Run(t, []sqldb.Schema{testSchema}, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		step := func(what string, want uint64, do func() error) {
			t.Helper()
			before := db.Writes()
			_ = do()
			if got := db.Writes() - before; got != want {
				t.Errorf("%s: Writes went up by %d, want %d", what, got, want)
			}
		}
		step("a committed transaction", 1, func() error {
			return db.Tx(ctx, func(tx *sqldb.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO owners (id) VALUES ('ada')")
				return err
			})
		})
		step("a statement", 1, func() error {
			_, err := db.ExecContext(ctx, "INSERT INTO owners (id) VALUES ('bob')")
			return err
		})
		step("a query", 0, func() error {
			var n int
			return db.QueryRowContext(ctx, "SELECT count(*) FROM owners").Scan(&n)
		})
		step("a transaction that failed", 0, func() error {
			return db.Tx(ctx, func(tx *sqldb.Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO owners (id) VALUES ('cy')"); err != nil {
					return err
				}
				return errors.New("changed my mind")
			})
		})
	})
}
