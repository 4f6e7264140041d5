package outbox

import (
	"bytes"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// An event the bus can never take is parked, with a metric and an error log
// naming it, and the events after it are published; cleanup keeps it, and the
// requeue of the package documentation publishes it once its cause is fixed.
func TestEventTheBusCanNeverTakeIsParked(t *testing.T) {
	t.Parallel()
	// A database of its own for each bus: the counts below are of one run.
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) { testParking(t, db, b) })
	})
}

func testParking(t *testing.T, db *sqldb.DB, b *bus.Bus) {
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	typ := s.Subject("order", "placed")
	orphan := "t" + bustest.Unique() // no stream takes it, yet
	huge := strings.Repeat("x", int(b.Conn().MaxPayload()))

	first := commit(t, db, typ, 1)
	noStream := commit(t, db, orphan+".order.placed", 1)
	tooLarge := addEvent(t, db, typ, map[string]string{"blob": huge})
	last := commit(t, db, typ, 2)

	var logs syncBuffer
	r := NewRelay(db, b, RelayConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if n, _, err := r.round(ctxT(t)); err != nil || n != 3 {
		t.Fatalf("round = %d, %v; want 3 published, nil", n, err)
	}
	if got, want := streamIDs(t, b, s.Name), append(ids(first), ids(last)...); !slices.Equal(got,
		want) {
		t.Errorf("stream = %v, want %v", got, want)
	}
	parked := parkedRows(t, db)
	want := []string{noStream[0].ID, tooLarge.ID}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(parked)); !slices.Equal(got, want) {
		t.Fatalf("parked = %v, want %v", parked, want)
	}
	for id, wantReason := range map[string]string{noStream[0].ID: "no stream takes subject",
		tooLarge.ID: "maximum payload exceeded"} {
		if !strings.Contains(parked[id], wantReason) {
			t.Errorf("reason of %s = %q, want it to say %q", id, parked[id], wantReason)
		}
	}
	for _, want := range []string{"level=ERROR", noStream[0].ID, orphan + ".order.placed",
		tooLarge.ID, "no stream takes subject"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not name %q:\n%s", want, logs.String())
		}
	}
	r.gauges(ctxT(t), true)
	for name, tt := range map[string]struct{ got, want float64 }{
		"parked_total": {testutil.ToFloat64(r.m.parked), 2},
		"parked":       {testutil.ToFloat64(r.m.parkedNow), 2},
		"backlog":      {testutil.ToFloat64(r.m.backlog), 0},
		"lag":          {testutil.ToFloat64(r.m.lag), 0},
	} {
		if tt.got != tt.want {
			t.Errorf("metric %s = %v, want %v", name, tt.got, tt.want)
		}
	}
	if n, more, err := r.round(ctxT(t)); err != nil || n != 0 || more {
		t.Errorf("next round = %d, more %v, %v; want nothing to do", n, more, err)
	}

	// Cleanup deletes old published rows, never parked ones.
	if _, err := db.ExecContext(ctxT(t), `UPDATE outbox SET published_at = $1
		WHERE published_at IS NOT NULL`, time.Now().UTC().Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := r.cleanup(ctxT(t)); err != nil || n != 3 {
		t.Errorf("cleanup = %d, %v; want the 3 published rows", n, err)
	}
	if got := len(parkedRows(t, db)); got != 2 {
		t.Errorf("%d parked rows after cleanup, want 2", got)
	}

	// The cause is fixed: a stream now takes the subject. Requeue.
	if err := b.EnsureStream(ctxT(t), bus.StreamConfig{Name: strings.ToUpper(orphan),
		Subjects: []string{orphan + ".>"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.JetStream().DeleteStream(ctxT(t), strings.ToUpper(orphan)) })
	if _, err := db.ExecContext(ctxT(t), `UPDATE outbox SET parked_at = NULL,
		parked_reason = NULL WHERE event_id = $1`, noStream[0].ID); err != nil {
		t.Fatal(err)
	}
	if n, _, err := r.round(ctxT(t)); err != nil || n != 1 {
		t.Fatalf("round after requeue = %d, %v; want 1, nil", n, err)
	}
	if got := streamIDs(t, b, strings.ToUpper(orphan)); !slices.Equal(got, ids(noStream)) {
		t.Errorf("requeued stream = %v, want %v", got, ids(noStream))
	}
}

// addEvent commits one event of type typ with data.
func addEvent(t *testing.T, db *sqldb.DB, typ string, data any) event.Envelope {
	t.Helper()
	env, err := event.New(typ, "test", data)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctxT(t), func(tx *sqldb.Tx) error { return Add(ctxT(t), tx, env) }); err != nil {
		t.Fatal(err)
	}
	return env
}

// parkedRows returns the reason of every parked row by event id.
func parkedRows(t *testing.T, db *sqldb.DB) map[string]string {
	t.Helper()
	rows, err := db.QueryContext(ctxT(t), `SELECT event_id, parked_reason FROM outbox
		WHERE parked_at IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, reason string
		if err := rows.Scan(&id, &reason); err != nil {
			t.Fatal(err)
		}
		out[id] = reason
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
