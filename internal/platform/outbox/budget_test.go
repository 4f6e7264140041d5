package outbox

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// slowPublisher stands for a bus that is slow to acknowledge: every publish
// takes at least delay.
type slowPublisher struct {
	next  Publisher
	delay time.Duration
}

func (p slowPublisher) Publish(ctx context.Context, subject, msgID string, data []byte,
	header nats.Header) error {
	t := time.NewTimer(p.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return p.next.Publish(ctx, subject, msgID, data, header)
}

// drainByRounds runs rounds of r until the outbox is empty, failing the test
// when a round fails or publishes nothing, and checks that the first round
// stopped short of its batch with more to do. It then checks that every event
// went out once, in order.
func drainByRounds(t *testing.T, r *Relay, db *sqldb.DB, b *bus.Bus, counting *countingPublisher,
	stream string, envs []event.Envelope) {
	t.Helper()
	var total, rounds int
	for backlog(t, db) > 0 {
		rounds++
		if rounds > len(envs) {
			t.Fatalf("%d rounds published %d of %d events", rounds-1, total, len(envs))
		}
		n, more, err := r.round(ctxT(t))
		if err != nil {
			t.Fatalf("round %d (after %d published): %v", rounds, total, err)
		}
		if n == 0 {
			t.Fatalf("round %d published nothing, %d left", rounds, backlog(t, db))
		}
		if rounds == 1 && (n >= len(envs) || !more) {
			t.Errorf("first round = %d, more %v; want fewer than %d (budget spent), more true",
				n, more, len(envs))
		}
		total += n
	}
	if total != len(envs) {
		t.Errorf("rounds published %d, want %d", total, len(envs))
	}
	for id, n := range counting.counts() {
		if n != 1 {
			t.Errorf("event %s published %d times", id, n)
		}
	}
	if got, want := streamIDs(t, b, stream), ids(envs); !slices.Equal(got, want) {
		t.Errorf("stream = %v,\nwant %v", got, want)
	}
}

// A batch that takes longer to publish than a round may last is marked in
// part, and the next round carries on from there: on PostgreSQL the round's
// transaction would otherwise expire before marking, roll back, and the same
// rows would be published again every round without end.
func TestSlowBusStillMakesProgress(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		b := bustest.EmbeddedBus(t)
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		// 40 publishes of at least 50ms need 2s, twice the round's budget.
		envs := commit(t, db, s.Subject("order", "placed"), 40)
		counting := newCounting(b)
		r := NewRelay(db, slowPublisher{counting, 50 * time.Millisecond}, RelayConfig{
			Batch: 100, RoundTimeout: time.Second, PublishTimeout: 200 * time.Millisecond,
			Logger: bustest.Logger(t)})
		drainByRounds(t, r, db, b, counting, s.Name, envs)
	})
}

// A server that ends transactions idle for longer than its
// idle_in_transaction_session_timeout shortens the round to that, whatever
// RoundTimeout says.
func TestSlowBusUnderIdleInTransactionTimeout(t *testing.T) {
	t.Parallel()
	sqldbtest.NeedPostgres(t)
	u, err := url.Parse(sqldbtest.PostgresDatabase(t, schemas...))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("idle_in_transaction_session_timeout", "1000") // ms, as a DBA might set it
	u.RawQuery = q.Encode()
	db, err := sqldb.Open(ctxT(t), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var setting string
	if err := db.QueryRowContext(ctxT(t),
		"SHOW idle_in_transaction_session_timeout").Scan(&setting); err != nil || setting != "1s" {
		t.Fatalf("idle_in_transaction_session_timeout = %q, %v; want 1s", setting, err)
	}

	b := bustest.EmbeddedBus(t)
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	envs := commit(t, db, s.Subject("order", "placed"), 40)
	counting := newCounting(b)
	r := NewRelay(db, slowPublisher{counting, 50 * time.Millisecond}, RelayConfig{
		Batch: 100, PublishTimeout: 200 * time.Millisecond, Logger: bustest.Logger(t)})
	drainByRounds(t, r, db, b, counting, s.Name, envs)
}

func TestNewBudget(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		round, pub  time.Duration
		limits      []time.Duration
		wantStop    time.Duration // after start
		wantPublish time.Duration
	}{
		{"defaults", time.Minute, 5 * time.Second, nil, 54 * time.Second, 5 * time.Second},
		{"no server limits", time.Minute, 5 * time.Second, []time.Duration{0, 0},
			54 * time.Second, 5 * time.Second},
		{"idle limit", time.Minute, 5 * time.Second, []time.Duration{10 * time.Second, 0},
			9 * time.Second, 2500 * time.Millisecond},
		{"transaction limit", time.Minute, 5 * time.Second,
			[]time.Duration{30 * time.Second, 20 * time.Second}, 18 * time.Second,
			5 * time.Second},
		{"limit above round", time.Minute, 5 * time.Second, []time.Duration{time.Hour},
			54 * time.Second, 5 * time.Second},
		{"reviewer's scaled case", 2 * time.Second, 5 * time.Second, nil,
			1800 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newBudget(start, tt.round, tt.pub, tt.limits...)
			if stop := got.stopAt.Sub(start); stop != tt.wantStop ||
				got.publishTimeout != tt.wantPublish {
				t.Errorf("budget = stop after %s, publish %s; want %s, %s", stop,
					got.publishTimeout, tt.wantStop, tt.wantPublish)
			}
		})
	}
}
