package inbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

var schemas = []sqldb.Schema{inbox.Schema}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newEvent(t testing.TB, typ string) event.Envelope {
	t.Helper()
	env, err := event.New(typ, "test", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// applier counts the transactions of a handler that committed.
type applier struct{ applied atomic.Int32 }

func (a *applier) fn(err error) func(tx *sqldb.Tx) error {
	return func(tx *sqldb.Tx) error {
		tx.OnCommit(func() { a.applied.Add(1) })
		return err
	}
}

func TestProcessAppliesEachEventOncePerConsumer(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		e1, e2 := newEvent(t, "orders.order.placed"), newEvent(t, "orders.order.placed")
		tests := []struct {
			name      string
			deliver   []event.Envelope
			consumers []string
			want      int32
		}{
			{"twice", []event.Envelope{e1, e1}, []string{"a", "a"}, 1},
			{"two events", []event.Envelope{e1, e2, e2}, []string{"b", "b", "b"}, 2},
			{"two consumers", []event.Envelope{e1, e1, e1}, []string{"c", "d", "c"}, 2},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var a applier
				for i, env := range tt.deliver {
					if err := inbox.Process(ctxT(t), db, tt.consumers[i], env, a.fn(nil)); err != nil {
						t.Fatalf("process: %v", err)
					}
				}
				if got := a.applied.Load(); got != tt.want {
					t.Errorf("applied %d times, want %d", got, tt.want)
				}
			})
		}
	})
}

func TestProcessFailureRecordsNothing(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		env := newEvent(t, "orders.order.placed")
		errHandler := errors.New("handler failed")
		var a applier
		err := inbox.Process(ctxT(t), db, "c", env, a.fn(errHandler))
		if !errors.Is(err, errHandler) {
			t.Fatalf("err = %v, want %v", err, errHandler)
		}
		if err := inbox.Process(ctxT(t), db, "c", env, a.fn(nil)); err != nil {
			t.Fatal(err)
		}
		if got := a.applied.Load(); got != 1 {
			t.Errorf("applied %d times, want 1 (the retry)", got)
		}
	})
}

func TestProcessConcurrentDuplicatesApplyOnce(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		env := newEvent(t, "orders.order.placed")
		var a applier
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if err := inbox.Process(ctxT(t), db, "c", env, a.fn(nil)); err != nil {
					t.Errorf("process: %v", err)
				}
			})
		}
		wg.Wait()
		if got := a.applied.Load(); got != 1 {
			t.Errorf("applied %d times, want 1", got)
		}
	})
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		var a applier
		for range 3 {
			if err := inbox.Process(ctxT(t), db, "c", newEvent(t, "a.b.c"), a.fn(nil)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(ctxT(t), "UPDATE inbox SET processed_at = $1",
			time.Now().UTC().Add(-48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		recent := newEvent(t, "a.b.c")
		if err := inbox.Process(ctxT(t), db, "c", recent, a.fn(nil)); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			retention time.Duration
			want      int64
		}{
			{72 * time.Hour, 0},
			{24 * time.Hour, 3},
			{24 * time.Hour, 0},
		}
		for _, tt := range tests {
			got, err := inbox.Cleanup(ctxT(t), db, tt.retention)
			if err != nil || got != tt.want {
				t.Errorf("Cleanup(%s) = %d, %v; want %d, nil", tt.retention, got, err, tt.want)
			}
		}
		// The recent record still guards its event.
		if err := inbox.Process(ctxT(t), db, "c", recent, a.fn(nil)); err != nil {
			t.Fatal(err)
		}
		if got := a.applied.Load(); got != 4 {
			t.Errorf("applied %d times, want 4", got)
		}
	})
}

// each runs fn for every database dialect and every NATS server available.
func each(t *testing.T, fn func(t *testing.T, db *sqldb.DB, b *bus.Bus)) {
	t.Helper()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		bustest.Run(t, func(t *testing.T, b *bus.Bus) { fn(t, db, b) })
	})
}

func consume(t *testing.T, b *bus.Bus, cfg bus.ConsumerConfig) {
	t.Helper()
	c, err := b.Consume(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	t.Cleanup(c.Stop)
}

func TestEventDeliveredTwiceAppliesOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqldb.DB, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		var calls atomic.Int32
		var a applier
		consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: "twice",
			Handler: func(ctx context.Context, env event.Envelope) error {
				calls.Add(1)
				return inbox.Process(ctx, db, "twice", env, a.fn(nil))
			},
		})
		env := newEvent(t, s.Subject("order", "placed"))
		data, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		// Two copies in the stream: distinct message ids get past the dedupe,
		// as a republish after the duplicate window would.
		for _, msgID := range []string{"copy-1", "copy-2"} {
			if err := b.Publish(ctxT(t), env.Type, msgID, data, nil); err != nil {
				t.Fatal(err)
			}
		}
		bustest.Eventually(t, 10*time.Second, func() bool { return calls.Load() == 2 },
			"handler called %d times, want 2", calls.Load())
		if got := a.applied.Load(); got != 1 {
			t.Errorf("applied %d times, want 1", got)
		}
	})
}

// attempts records when each delivery of a failing handler happened.
type attempts struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *attempts) add() {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
}

func (a *attempts) get() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.times...)
}

func TestFailingHandlerIsRetriedWithBackoffThenDeadLettered(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqldb.DB, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		durable := "retry" + bustest.Unique()
		bustest.DeadLetter(t, b, durable)
		backoff := []time.Duration{50 * time.Millisecond, 300 * time.Millisecond}
		var tries attempts
		var a applier
		consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: durable, MaxDeliver: 3, Backoff: backoff,
			Handler: func(ctx context.Context, env event.Envelope) error {
				tries.add()
				return inbox.Process(ctx, db, durable, env, a.fn(errors.New("smtp down")))
			},
		})
		env := newEvent(t, s.Subject("order", "placed"))
		if err := b.PublishEvent(ctxT(t), env); err != nil {
			t.Fatal(err)
		}
		dlSubject := bus.DeadLetterPrefix + durable + "." + env.Type
		bustest.Eventually(t, 10*time.Second, func() bool {
			return bustest.Count(t, b, bus.DeadLetterStream, dlSubject) == 1
		}, "no dead letter on %s", dlSubject)

		times := tries.get()
		if len(times) != 3 {
			t.Fatalf("handler ran %d times, want 3 (MaxDeliver)", len(times))
		}
		gaps := []time.Duration{times[1].Sub(times[0]), times[2].Sub(times[1])}
		for i, gap := range gaps {
			if gap < backoff[i] {
				t.Errorf("delay before delivery %d = %s, want at least %s", i+2, gap, backoff[i])
			}
		}
		if gaps[1] <= gaps[0] {
			t.Errorf("delays %v did not grow", gaps)
		}
		if got := a.applied.Load(); got != 0 {
			t.Errorf("applied %d times, want 0", got)
		}

		m := bustest.LastDeadLetter(t, b, dlSubject)
		var got event.Envelope
		if err := json.Unmarshal(m.Data, &got); err != nil || got.ID != env.ID {
			t.Errorf("dead letter data = %s (%v), want the envelope of %s", m.Data, err, env.ID)
		}
		for k, want := range map[string]string{
			bus.HeaderDeadConsumer:   durable,
			bus.HeaderDeadDeliveries: "3",
			bus.HeaderDeadSubject:    env.Type,
		} {
			if got := m.Header.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		if got := m.Header.Get(bus.HeaderDeadError); !strings.Contains(got, "smtp down") {
			t.Errorf("error header = %q, want the handler's error", got)
		}
	})
}

func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqldb.DB, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		durable := "perm" + bustest.Unique()
		bustest.DeadLetter(t, b, durable)
		var calls atomic.Int32
		var a applier
		consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: durable, MaxDeliver: 5,
			Backoff: []time.Duration{10 * time.Millisecond},
			Handler: func(ctx context.Context, env event.Envelope) error {
				calls.Add(1)
				return inbox.Process(ctx, db, durable, env,
					a.fn(bus.Permanent(errors.New("unknown sku"))))
			},
		})
		env := newEvent(t, s.Subject("order", "placed"))
		if err := b.PublishEvent(ctxT(t), env); err != nil {
			t.Fatal(err)
		}
		dlSubject := bus.DeadLetterPrefix + durable + "." + env.Type
		bustest.Eventually(t, 10*time.Second, func() bool {
			return bustest.Count(t, b, bus.DeadLetterStream, dlSubject) == 1
		}, "no dead letter on %s", dlSubject)
		m := bustest.LastDeadLetter(t, b, dlSubject)
		if got := m.Header.Get(bus.HeaderDeadDeliveries); got != "1" {
			t.Errorf("deliveries header = %q, want 1", got)
		}
		if got := calls.Load(); got != 1 {
			t.Errorf("handler ran %d times, want 1", got)
		}
	})
}
