package outbox

import (
	"context"
	"testing"
	"time"

	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// A commit that adds an event wakes the relay of its subject in the same
// process: the event goes out although the relay polls only once an hour.
func TestCommitWakesTheRelay(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		b := bustest.EmbeddedBus(t)
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		r := NewRelay(db, b, RelayConfig{PollInterval: time.Hour, MaxBackoff: time.Hour,
			Subjects: []string{s.Subject("order", ">")}, Logger: bustest.Logger(t)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			<-done
		})
		// The relay's first round finds nothing; then it sleeps for an hour.
		bustest.Eventually(t, 10*time.Second, func() bool { return r.listens() },
			"the relay did not start")
		commit(t, db, s.Subject("order", "placed"), 3)
		bustest.Eventually(t, 10*time.Second, func() bool { return backlog(t, db) == 0 },
			"the commit did not wake the relay")
	})
}

func TestSubjectMatches(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"orders.>", "orders.order.placed", true},
		{"orders.>", "orders", false},
		{"orders.>", "ordersx.order", false},
		{"orders.*.placed", "orders.order.placed", true},
		{"orders.*.placed", "orders.order.paid", false},
		{"orders.*", "orders.order.placed", false},
		{"orders.order.placed", "orders.order.placed", true},
		{"orders.order", "orders.order.placed", false},
		{"catalog.>", "orders.order.placed", false},
	}
	for _, tt := range tests {
		if got := subjectMatches(tt.pattern, tt.subject); got != tt.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

// listening reports whether r is woken by commits (it is running).
func (r *Relay) listens() bool { return r.listening.Load() }

// A relay on SQLite, where commits wake it, polls once a second; on
// PostgreSQL, where other replicas add events unseen, ten times a second.
func TestDefaultPollInterval(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		want := 100 * time.Millisecond
		if db.Dialect() == sqldb.SQLite {
			want = time.Second
		}
		if got := NewRelay(db, nil, RelayConfig{}).cfg.PollInterval; got != want {
			t.Fatalf("PollInterval = %s on %s; want %s", got, db.Dialect(), want)
		}
		if got := NewRelay(db, nil, RelayConfig{PollInterval: time.Minute}).cfg.PollInterval; got != time.Minute {
			t.Fatalf("PollInterval = %s; want the configured 1m", got)
		}
	})
}
