package inbox_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// recorded returns the event ids in the inbox, sorted.
func recorded(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(ctxT(t), "SELECT event_id FROM inbox ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// process records n new events and returns their ids.
func process(t *testing.T, db *sqldb.DB, n int) []string {
	t.Helper()
	var a applier
	var ids []string
	for range n {
		env := newEvent(t, "orders.order.placed")
		if err := inbox.Process(ctxT(t), db, "janitor", env, a.fn(nil)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, env.ID)
	}
	return ids
}

// age moves the records of ids back by d.
func age(t *testing.T, db *sqldb.DB, ids []string, d time.Duration) {
	t.Helper()
	for _, id := range ids {
		if _, err := db.ExecContext(ctxT(t),
			"UPDATE inbox SET processed_at = $1 WHERE event_id = $2",
			time.Now().UTC().Add(-d), id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJanitorDeletesOldRecordsUntilStopped(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		old := process(t, db, 3)
		age(t, db, old, 48*time.Hour)
		recent := process(t, db, 2)

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- inbox.Janitor(db, 24*time.Hour, 20*time.Millisecond)(ctx) }()
		t.Cleanup(cancel)

		want := slices.Sorted(slices.Values(recent))
		bustest.Eventually(t, 10*time.Second, func() bool {
			return slices.Equal(recorded(t, db), want)
		}, "inbox holds %v, want %v", recorded(t, db), want)

		// It keeps running: records that age later go on a later pass.
		age(t, db, recent[:1], 48*time.Hour)
		want = []string{recent[1]}
		bustest.Eventually(t, 10*time.Second, func() bool {
			return slices.Equal(recorded(t, db), want)
		}, "inbox holds %v, want %v", recorded(t, db), want)

		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("janitor returned %v when stopped, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("janitor did not return after ctx ended")
		}
	})
}

func TestJanitorReturnsTheErrorOfAFailedCleanup(t *testing.T) {
	t.Parallel()
	db := sqldbtest.SQLite(t, schemas...)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	err := inbox.Janitor(db, time.Hour, time.Hour)(ctxT(t))
	if err == nil {
		t.Fatal("janitor on a closed database returned nil, want its error")
	}
}
