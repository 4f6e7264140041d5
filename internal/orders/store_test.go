package orders

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/effect"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

func eachDB(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	sqldbtest.Run(t, []sqldb.Schema{outbox.Schema, inbox.Schema, effect.Schema, Schema}, fn)
}

// TestOrderNumbers: numbers start at EMP-10001 and no two committed
// transactions get the same one, however many take one at once. (A number
// taken by a transaction that rolled back may come again on SQLite, where the
// counter rolls back too, and never on PostgreSQL: either way no order had it.)
func TestOrderNumbers(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var first string
		if err := db.Tx(ctx, func(tx *sqldb.Tx) (err error) {
			first, err = nextNumber(ctx, tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if first != "EMP-10001" {
			t.Errorf("first number %s, want EMP-10001", first)
		}
		var mu sync.Mutex
		seen := map[string]bool{first: true}
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				var n string
				err := db.Tx(ctx, func(tx *sqldb.Tx) (err error) {
					if n, err = nextNumber(ctx, tx); err != nil {
						return err
					}
					if i%4 == 0 {
						return errors.New("roll back") // a checkout that failed
					}
					return nil
				})
				if err != nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if seen[n] {
					t.Errorf("number %s handed out twice", n)
				}
				seen[n] = true
			})
		}
		wg.Wait()
	})
}

// TestKeyRecords: a record is locked while its request runs, taken over only
// once its lock is free, and keeps its first answer.
func TestKeyRecords(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		rec := &keyRecord{customerID: "c1", key: "k1", requestHash: "h", orderID: "o1",
			lockedUntil: now.Add(time.Minute), createdAt: now}
		tx := func(f func(tx *sqldb.Tx) error) error { return db.Tx(ctx, f) }
		if err := tx(func(tx *sqldb.Tx) error { return insertKeyRecord(ctx, tx, rec) }); err != nil {
			t.Fatal(err)
		}
		err := tx(func(tx *sqldb.Tx) error { return insertKeyRecord(ctx, tx, rec) })
		if !sqldb.IsUnique(err, "") {
			t.Fatalf("a second claim of the key: %v, want a unique violation", err)
		}
		lock := func(at time.Time) bool {
			var ok bool
			if err := tx(func(tx *sqldb.Tx) (err error) {
				ok, err = lockKeyRecord(ctx, tx, "c1", "k1", at.Add(time.Minute), at)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if lock(now) {
			t.Error("took over a record whose request still runs")
		}
		if !lock(now.Add(2 * time.Minute)) {
			t.Error("could not take over a record whose lock ran out")
		}
		if err := unlockKeyRecord(ctx, db, "c1", "k1"); err != nil {
			t.Fatal(err)
		}
		if !lock(now) {
			t.Error("could not take over a released record")
		}
		for _, status := range []int{201, 409} {
			if err := tx(func(tx *sqldb.Tx) error {
				return respondKeyRecord(ctx, tx, "c1", "k1", status, []byte(`{"n":1}`))
			}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := keyRecordByKey(ctx, db, "c1", "k1")
		if err != nil || got == nil {
			t.Fatalf("read: %v %v", got, err)
		}
		if got.status != 201 || string(got.body) != `{"n":1}` || !got.lockedUntil.IsZero() {
			t.Errorf("record %+v: want the first answer kept and no lock", got)
		}
		if lock(now.Add(time.Hour)) {
			t.Error("took over a record that has its answer")
		}
		if n, err := deleteExpiredKeys(ctx, db, now.Add(time.Second)); err != nil || n != 1 {
			t.Errorf("cleanup deleted %d (%v), want 1", n, err)
		}
	})
}
