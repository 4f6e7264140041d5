package outbox

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

func TestTwoRelaysOnOnePostgresPublishEachRowOnce(t *testing.T) {
	t.Parallel()
	sqldbtest.NeedPostgres(t)
	url := sqldbtest.PostgresDatabase(t, schemas...)
	open := func() *sqldb.DB {
		db, err := sqldb.Open(ctxT(t), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB, writer := open(), open(), open()
	b := bustest.EmbeddedBus(t)
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	typ := s.Subject("order", "placed")

	counting := newCounting(b)
	for _, db := range []*sqldb.DB{dbA, dbB} {
		run(t, NewRelay(db, counting, RelayConfig{Batch: 25, PollInterval: time.Millisecond}))
	}

	// One writer, so commit order is sequence order and the stream order can
	// be checked against it; transactions of 1 to 9 events.
	const total = 600
	var want []string
	var mu sync.Mutex
	for len(want) < total {
		k := min(1+len(want)%9, total-len(want))
		err := writer.Tx(ctxT(t), func(tx *sqldb.Tx) error {
			for range k {
				env, err := event.New(typ, "test", nil)
				if err != nil {
					return err
				}
				if err := Add(context.Background(), tx, env); err != nil {
					return err
				}
				tx.OnCommit(func() { mu.Lock(); want = append(want, env.ID); mu.Unlock() })
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	bustest.Eventually(t, 60*time.Second, func() bool { return backlog(t, writer) == 0 },
		"outbox not drained by two relays")

	counts := counting.counts()
	if len(counts) != total {
		t.Errorf("published %d distinct events, want %d", len(counts), total)
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("event %s published %d times", id, n)
		}
	}
	if got := streamIDs(t, b, s.Name); !slices.Equal(got, want) {
		t.Errorf("stream holds %d events, want %d in commit order", len(got), len(want))
	}
}
