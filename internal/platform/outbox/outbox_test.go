package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

func TestAddValidates(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		good, err := event.New("orders.order.placed", "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Tx(ctxT(t), func(tx *sqldb.Tx) error {
			return Add(ctxT(t), tx, good)
		}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name    string
			env     event.Envelope
			wantErr func(error) bool
		}{
			{"empty id", event.Envelope{Type: "a.b.c"}, func(err error) bool { return err != nil }},
			{"bad type", event.Envelope{ID: "x", Type: "Orders"},
				func(err error) bool { return err != nil }},
			{"duplicate id", good, func(err error) bool { return errors.Is(err, sqldb.ErrUnique) }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := db.Tx(ctxT(t), func(tx *sqldb.Tx) error { return Add(ctxT(t), tx, tt.env) })
				if !tt.wantErr(err) {
					t.Errorf("err = %v", err)
				}
			})
		}
	})
}

func TestRolledBackEventsAreNeverPublished(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqldb.DB, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		typ := s.Subject("order", "placed")
		rolledBack, err := event.New(typ, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		errAbort := errors.New("abort")
		err = db.Tx(ctxT(t), func(tx *sqldb.Tx) error {
			if err := Add(ctxT(t), tx, rolledBack); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("tx err = %v, want %v", err, errAbort)
		}
		committed := commit(t, db, typ, 1)
		r := NewRelay(db, b, RelayConfig{})
		if n, _, err := r.round(ctxT(t)); err != nil || n != 1 {
			t.Fatalf("round = %d, %v; want 1, nil", n, err)
		}
		if n, _, err := r.round(ctxT(t)); err != nil || n != 0 {
			t.Fatalf("second round = %d, %v; want 0, nil", n, err)
		}
		if got, want := streamIDs(t, b, s.Name), ids(committed); !slices.Equal(got, want) {
			t.Errorf("stream = %v, want %v", got, want)
		}
	})
}

func TestRelayPublishesInOrderWithTraceContext(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqldb.DB, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		typ := s.Subject("user", "registered")
		ctx, span := otel.Tracer("test").Start(ctxT(t), "register")
		traced, err := event.New(typ, "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Tx(ctx, func(tx *sqldb.Tx) error { return Add(ctx, tx, traced) }); err != nil {
			t.Fatal(err)
		}
		span.End()
		want := append([]string{traced.ID}, ids(commit(t, db, typ, 249))...)

		gotTrace := make(chan trace.TraceID, 1)
		c, err := b.Consume(ctxT(t), bus.ConsumerConfig{
			Stream: s.Name, Durable: "tracer",
			Handler: func(ctx context.Context, env event.Envelope) error {
				if env.ID == traced.ID {
					gotTrace <- trace.SpanContextFromContext(ctx).TraceID()
				}
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)

		r := NewRelay(db, b, RelayConfig{Batch: 100})
		run(t, r)
		bustest.Eventually(t, 30*time.Second, func() bool { return backlog(t, db) == 0 },
			"outbox not drained")
		if got := streamIDs(t, b, s.Name); !slices.Equal(got, want) {
			t.Errorf("stream holds %d events out of order or duplicated, want %d in order",
				len(got), len(want))
		}
		select {
		case id := <-gotTrace:
			if id != span.SpanContext().TraceID() {
				t.Errorf("consumer trace id = %s, want %s", id, span.SpanContext().TraceID())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("traced event not consumed")
		}
	})
}

func TestEventsCommittedWhileBusIsDownArePublishedInOrderOnce(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		srv := bustest.NewRestartable(t)
		b := bustest.Dial(t, srv.URL())
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		typ := s.Subject("order", "placed")

		counting := newCounting(b)
		r := NewRelay(db, counting, RelayConfig{Batch: 7, PollInterval: 10 * time.Millisecond,
			MaxBackoff: 200 * time.Millisecond, Logger: bustest.Logger(t)})
		run(t, r)
		before := commit(t, db, typ, 20)
		bustest.Eventually(t, 10*time.Second, func() bool { return backlog(t, db) == 0 },
			"events before the outage not published")

		srv.Stop()
		during := commit(t, db, typ, 30)
		bustest.Eventually(t, 10*time.Second, func() bool {
			return testutil.ToFloat64(r.m.failures) >= 2
		}, "relay did not notice the outage")
		if got := backlog(t, db); got != len(during) {
			t.Errorf("backlog while down = %d, want %d", got, len(during))
		}

		srv.Start()
		bustest.Eventually(t, 20*time.Second, func() bool { return backlog(t, db) == 0 },
			"events committed during the outage not published after it")

		want := append(ids(before), ids(during)...)
		if got := streamIDs(t, b, s.Name); !slices.Equal(got, want) {
			t.Errorf("stream = %v,\nwant %v", got, want)
		}
		for id, n := range counting.counts() {
			if n != 1 {
				t.Errorf("event %s published %d times", id, n)
			}
		}
		if got := testutil.ToFloat64(r.m.published); got != float64(len(want)) {
			t.Errorf("published metric = %v, want %d", got, len(want))
		}
	})
}

func TestCrashBetweenPublishAndMarkIsDeduplicatedByTheStream(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqldb.DB, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		envs := commit(t, db, s.Subject("order", "placed"), 5)

		crashing := NewRelay(db, b, RelayConfig{})
		crashing.beforeMark = func() error { return errCrash }
		if _, _, err := crashing.round(ctxT(t)); !errors.Is(err, errCrash) {
			t.Fatalf("crashing round err = %v, want %v", err, errCrash)
		}
		if got := backlog(t, db); got != len(envs) {
			t.Fatalf("backlog after crash = %d, want %d (nothing marked)", got, len(envs))
		}

		counting := newCounting(b)
		if n, _, err := NewRelay(db, counting, RelayConfig{}).round(ctxT(t)); err != nil ||
			n != len(envs) {
			t.Fatalf("restarted round = %d, %v; want %d, nil", n, err, len(envs))
		}
		if got := len(counting.counts()); got != len(envs) {
			t.Errorf("restarted relay published %d events, want %d again", got, len(envs))
		}
		if got := streamIDs(t, b, s.Name); !slices.Equal(got, ids(envs)) {
			t.Errorf("stream = %v, want one copy each: %v", got, ids(envs))
		}
	})
}

func TestCrashBeyondDedupeWindowIsAbsorbedByTheInbox(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqldb.DB, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{Duplicates: 100 * time.Millisecond})
		envs := commit(t, db, s.Subject("order", "placed"), 3)

		crashing := NewRelay(db, b, RelayConfig{})
		crashing.beforeMark = func() error { return errCrash }
		if _, _, err := crashing.round(ctxT(t)); !errors.Is(err, errCrash) {
			t.Fatalf("crashing round err = %v, want %v", err, errCrash)
		}
		waitDedupeWindowPassed(t, b, s)

		if _, _, err := NewRelay(db, b, RelayConfig{}).round(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if got, want := bustest.Count(t, b, s.Name, s.Prefix+".order.>"), 2*len(envs); got !=
			want {
			t.Fatalf("stream holds %d copies, want %d (dedupe window passed)", got, want)
		}

		var calls, applied atomic.Int32
		c, err := b.Consume(ctxT(t), bus.ConsumerConfig{
			Stream: s.Name, Durable: "once", FilterSubjects: []string{s.Prefix + ".order.>"},
			Handler: func(ctx context.Context, env event.Envelope) error {
				calls.Add(1)
				return inbox.Process(ctx, db, "once", env, func(tx *sqldb.Tx) error {
					tx.OnCommit(func() { applied.Add(1) })
					return nil
				})
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Stop)
		bustest.Eventually(t, 10*time.Second, func() bool {
			return calls.Load() == int32(2*len(envs))
		}, "handler called %d times, want %d", calls.Load(), 2*len(envs))
		if got := applied.Load(); got != int32(len(envs)) {
			t.Errorf("applied %d times, want %d", got, len(envs))
		}
	})
}

// waitDedupeWindowPassed publishes a probe with a fixed message id until the
// stream stops calling it a duplicate: the window of everything published
// before the probe has then passed too.
func waitDedupeWindowPassed(t *testing.T, b *bus.Bus, s bustest.Stream) {
	t.Helper()
	probe := func() bool {
		ack, err := b.JetStream().PublishMsg(ctxT(t), &nats.Msg{Subject: s.Subject("probe", "x")},
			jetstream.WithMsgID("probe"))
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		return !ack.Duplicate
	}
	probe()
	bustest.Eventually(t, 10*time.Second, probe, "dedupe window did not pass")
}

func TestCleanupDeletesOldPublishedRows(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		b := bustest.EmbeddedBus(t)
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		typ := s.Subject("order", "placed")
		old := commit(t, db, typ, 3)
		r := NewRelay(db, b, RelayConfig{Retention: time.Hour})
		if _, _, err := r.round(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		// Age the published rows past the retention.
		if _, err := db.ExecContext(ctxT(t), "UPDATE outbox SET published_at = $1",
			time.Now().UTC().Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		recent := commit(t, db, typ, 2)
		if _, _, err := r.round(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		unpublished := commit(t, db, typ, 1)

		n, err := r.cleanup(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(len(old)) {
			t.Errorf("deleted %d rows, want %d", n, len(old))
		}
		var left []string
		rows, err := db.QueryContext(ctxT(t), "SELECT event_id FROM outbox ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			left = append(left, id)
		}
		if want := append(ids(recent), ids(unpublished)...); !slices.Equal(left, want) {
			t.Errorf("rows left = %v, want %v", left, want)
		}
	})
}

func TestHeadersColumnCarriesTraceContext(t *testing.T) {
	t.Parallel()
	db := sqldbtest.SQLite(t, schemas...)
	ctx, span := otel.Tracer("test").Start(ctxT(t), "op")
	defer span.End()
	env, err := event.New("orders.order.placed", "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(tx *sqldb.Tx) error { return Add(ctx, tx, env) }); err != nil {
		t.Fatal(err)
	}
	var headers, payload string
	if err := db.QueryRowContext(ctx, "SELECT headers, payload FROM outbox").Scan(&headers,
		&payload); err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(headers), &h); err != nil {
		t.Fatalf("headers %q: %v", headers, err)
	}
	if got := h["traceparent"]; !strings.Contains(got, span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent = %q, want trace %s", got, span.SpanContext().TraceID())
	}
	var got event.Envelope
	if err := json.Unmarshal([]byte(payload), &got); err != nil || got.ID != env.ID {
		t.Errorf("payload = %s (%v), want the envelope of %s", payload, err, env.ID)
	}
}
