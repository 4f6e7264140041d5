package effect_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

var schemas = []sqldb.Schema{effect.Schema}

type email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// record records one effect in a transaction of its own, which fails
// (rolls back) when rollback is set.
func record(t *testing.T, db *sqldb.DB, kind, key string, payload any, rollback bool) {
	t.Helper()
	errRollback := errors.New("rollback")
	err := db.Tx(t.Context(), func(tx *sqldb.Tx) error {
		if err := effect.Record(t.Context(), tx, kind, key, payload); err != nil {
			return err
		}
		if rollback {
			return errRollback
		}
		return nil
	})
	if rollback && !errors.Is(err, errRollback) || !rollback && err != nil {
		t.Fatalf("record: %v", err)
	}
}

// row is an effect as the table holds it.
type row struct {
	attempts  int
	lastError sql.NullString
	nextAt    time.Time
	done      bool
	failed    bool
}

func effectRow(t *testing.T, db *sqldb.DB, kind, key string) row {
	t.Helper()
	var r row
	var doneAt, failedAt sql.NullTime
	err := db.QueryRowContext(t.Context(), `SELECT attempts, last_error, next_attempt_at,
		done_at, failed_at FROM effects WHERE kind = $1 AND key = $2`, kind, key).
		Scan(&r.attempts, &r.lastError, &r.nextAt, &doneAt, &failedAt)
	if err != nil {
		t.Fatalf("effect %s %s: %v", kind, key, err)
	}
	r.done, r.failed = doneAt.Valid, failedAt.Valid
	return r
}

func count(t *testing.T, db *sqldb.DB, where string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM effects WHERE "+where).
		Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// round runs one turn of r and checks how many effects it claimed.
func round(t *testing.T, r *effect.Runner, want int) {
	t.Helper()
	got, err := r.Round(t.Context())
	if err != nil {
		t.Fatalf("round: %v", err)
	}
	if got != want {
		t.Fatalf("round claimed %d effects, want %d", got, want)
	}
}

// later is a clock ahead of every effect a test records: they are all due.
func later() *testkit.Clock { return testkit.NewClockAt(time.Now().UTC().Add(time.Minute)) }

func TestRecordIsIdempotentByKindAndKey(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		record(t, db, "email", "event-1", email{To: "a@example.com"}, false)
		record(t, db, "email", "event-1", email{To: "b@example.com"}, false) // a redelivery
		record(t, db, "sms", "event-1", nil, false)
		if got := count(t, db, "kind = 'email'"); got != 1 {
			t.Errorf("%d email effects for one key, want 1", got)
		}
		if got := count(t, db, "true"); got != 2 {
			t.Errorf("%d effects, want 2: kinds do not share keys", got)
		}
		var payload string
		if err := db.QueryRowContext(t.Context(),
			"SELECT payload FROM effects WHERE kind = 'email'").Scan(&payload); err != nil {
			t.Fatal(err)
		}
		if want := `{"to":"a@example.com","subject":""}`; payload != want {
			t.Errorf("payload = %s, want the first record's %s", payload, want)
		}
	})
}

func TestEffectOfARolledBackTransactionNeverRuns(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		var calls atomic.Int32
		r := effect.NewRunner(db, effect.RunnerConfig{Now: later().Now,
			Handlers: map[string]effect.Handler{"email": func(context.Context, effect.Effect) error {
				calls.Add(1)
				return nil
			}}})
		record(t, db, "email", "order-1", email{To: "a@example.com"}, true)
		round(t, r, 0)
		if got := count(t, db, "true"); got != 0 || calls.Load() != 0 {
			t.Errorf("%d effects recorded, %d performed; want none", got, calls.Load())
		}
	})
}

// The process "crashes" right after the commit (no runner is running), or
// while its runner performs the effect: a new runner performs it.
func TestCommittedEffectSurvivesACrash(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		t.Run("after the commit", func(t *testing.T) {
			record(t, db, "email", "order-2", email{To: "a@example.com", Subject: "Thanks"},
				false)
			var got []email
			r := effect.NewRunner(db, effect.RunnerConfig{Now: later().Now,
				Handlers: map[string]effect.Handler{"email": func(_ context.Context,
					e effect.Effect) error {
					var m email
					if err := e.Decode(&m); err != nil {
						return err
					}
					got = append(got, m)
					return nil
				}}})
			round(t, r, 1)
			round(t, r, 0)
			if len(got) != 1 || got[0] != (email{To: "a@example.com", Subject: "Thanks"}) {
				t.Errorf("performed %+v, want the recorded email once", got)
			}
			if e := effectRow(t, db, "email", "order-2"); !e.done || e.attempts != 1 {
				t.Errorf("effect = %+v, want done after 1 attempt", e)
			}
		})

		t.Run("while performing", func(t *testing.T) {
			record(t, db, "email", "order-3", email{To: "a@example.com"}, false)
			clock := later()
			const timeout = time.Minute
			entered, release := make(chan struct{}), make(chan struct{})
			dying := effect.NewRunner(db, effect.RunnerConfig{Now: clock.Now, Timeout: timeout,
				Handlers: map[string]effect.Handler{"email": func(context.Context,
					effect.Effect) error {
					close(entered)
					<-release // the process is gone; this never returns in time
					return nil
				}}})
			dyingDone := make(chan error, 1)
			go func() { _, err := dying.Round(t.Context()); dyingDone <- err }()
			<-entered

			var attempts []int
			fresh := effect.NewRunner(db, effect.RunnerConfig{Now: clock.Now, Timeout: timeout,
				Handlers: map[string]effect.Handler{"email": func(_ context.Context,
					e effect.Effect) error {
					attempts = append(attempts, e.Attempt)
					return nil
				}}})
			round(t, fresh, 0) // claimed by the other runner
			clock.Advance(2*timeout + time.Second)
			round(t, fresh, 1)
			if len(attempts) != 1 || attempts[0] != 2 {
				t.Errorf("the new runner made attempts %v, want [2]", attempts)
			}
			close(release)
			if err := <-dyingDone; err != nil {
				t.Fatal(err)
			}
			if e := effectRow(t, db, "email", "order-3"); !e.done || e.attempts != 2 {
				t.Errorf("effect = %+v, want done after 2 attempts", e)
			}
		})
	})
}

func TestFailingEffectIsRetriedWithBackoffThenFails(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		clock := later()
		reg := prometheus.NewRegistry()
		var out testkit.SyncBuffer
		var calls atomic.Int32
		r := effect.NewRunner(db, effect.RunnerConfig{
			Now: clock.Now, MaxAttempts: 3, Registerer: reg, Logger: testkit.Logger(t, &out),
			Backoff: backoff.Policy{Initial: time.Minute, Max: time.Hour},
			Handlers: map[string]effect.Handler{
				"sms": func(context.Context, effect.Effect) error {
					calls.Add(1)
					return errors.New("twilio: 503")
				},
				"email": func(context.Context, effect.Effect) error {
					return bus.Permanent(errors.New("smtp: 550 no such user"))
				},
			},
		})
		record(t, db, "sms", "order-4", nil, false)
		for attempt, wait := range []time.Duration{0, time.Minute, 2 * time.Minute} {
			if wait > 0 {
				clock.Advance(wait - time.Second)
				round(t, r, 0) // not yet due
				clock.Advance(time.Second)
			}
			round(t, r, 1)
			e := effectRow(t, db, "sms", "order-4")
			if e.attempts != attempt+1 || e.lastError.String != "twilio: 503" {
				t.Errorf("after attempt %d: %+v", attempt+1, e)
			}
		}
		clock.Advance(24 * time.Hour)
		round(t, r, 0)
		if e := effectRow(t, db, "sms", "order-4"); !e.failed || e.done || calls.Load() != 3 {
			t.Errorf("effect = %+v after %d calls, want failed after 3", e, calls.Load())
		}

		record(t, db, "email", "order-4", nil, false)
		clock.Advance(time.Minute)
		round(t, r, 1)
		if e := effectRow(t, db, "email", "order-4"); !e.failed || e.attempts != 1 {
			t.Errorf("permanent failure: %+v, want failed after 1 attempt", e)
		}

		for labels, want := range map[[2]string]float64{
			{"sms", "retry"}: 2, {"sms", "failed"}: 1, {"email", "failed"}: 1,
		} {
			got := testkit.CounterValue(t, reg, "emporium_effects_total",
				map[string]string{"kind": labels[0], "result": labels[1]})
			if got != want {
				t.Errorf("emporium_effects_total%v = %v, want %v", labels, got, want)
			}
		}
		if got := count(t, db, "failed_at IS NOT NULL"); got != 2 {
			t.Errorf("%d failed effects kept, want 2", got)
		}
		logs := out.String()
		if n := strings.Count(logs, "level=ERROR msg=\"effect runner: effect failed for good"); n != 2 {
			t.Errorf("%d failures logged at error level, want 2:\n%s", n, logs)
		}
	})
}

func TestRunnerCleansUpDoneEffects(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		clock := later()
		r := effect.NewRunner(db, effect.RunnerConfig{Now: clock.Now, Retention: time.Hour,
			Handlers: map[string]effect.Handler{
				"email": func(context.Context, effect.Effect) error { return nil },
				"sms": func(context.Context, effect.Effect) error {
					return bus.Permanent(errors.New("no"))
				},
			}})
		record(t, db, "email", "a", nil, false)
		record(t, db, "sms", "a", nil, false)
		round(t, r, 2)
		clock.Advance(time.Hour + time.Second)
		if err := r.Cleanup(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := count(t, db, "kind = 'email'"); got != 0 {
			t.Errorf("%d done effects past retention kept, want 0", got)
		}
		if got := count(t, db, "kind = 'sms'"); got != 1 {
			t.Errorf("%d failed effects kept, want 1: an operator must see them", got)
		}
	})
}

// Two runners (two processes' database handles) share a database: every
// effect is performed once, and never by both at the same time.
func TestRunnersShareTheWork(t *testing.T) {
	t.Parallel()
	sqldbtest.RunURL(t, schemas, func(t *testing.T, dbURL string) {
		t.Parallel()
		const n = 200
		var mu sync.Mutex
		calls, inFlight := map[string]int{}, map[string]bool{}
		var overlaps atomic.Int32
		handler := func(ctx context.Context, e effect.Effect) error {
			mu.Lock()
			if inFlight[e.Key] {
				overlaps.Add(1)
			}
			inFlight[e.Key] = true
			calls[e.Key]++
			mu.Unlock()
			timer := time.NewTimer(time.Millisecond) // a call to a provider
			<-timer.C
			mu.Lock()
			delete(inFlight, e.Key)
			mu.Unlock()
			return nil
		}
		var dbs []*sqldb.DB
		for range 2 {
			db, err := sqldb.Open(t.Context(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(t.Context(), schemas...); err != nil {
				t.Fatal(err)
			}
			dbs = append(dbs, db)
		}
		for i := range n {
			record(t, dbs[0], "email", "order-"+strconv.Itoa(i), nil, false)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for _, db := range dbs {
			r := effect.NewRunner(db, effect.RunnerConfig{PollInterval: 5 * time.Millisecond,
				Concurrency: 8, Handlers: map[string]effect.Handler{"email": handler},
				Logger: testkit.Logger(t, io.Discard)})
			wg.Go(func() { r.Run(ctx) })
		}
		testkit.Eventually(t, 30*time.Second, func() bool {
			return count(t, dbs[0], "done_at IS NOT NULL") == n
		}, "not all %d effects done", n)
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(calls) != n {
			t.Errorf("%d effects performed, want %d", len(calls), n)
		}
		for key, c := range calls {
			if c != 1 {
				t.Errorf("effect %s performed %d times, want once", key, c)
			}
		}
		if got := overlaps.Load(); got != 0 {
			t.Errorf("%d effects performed by both runners at once", got)
		}
	})
}

// A round begun as its context ends still claims what is due and performs
// it: a claim whose commit the context cut short
// might have been made by the database all the same, its effects then
// waiting, claimed, until the claim ran out.
func TestRoundFinishesWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		var calls atomic.Int32
		r := effect.NewRunner(db, effect.RunnerConfig{Logger: testkit.Logger(t, io.Discard),
			Handlers: map[string]effect.Handler{"email": func(context.Context, effect.Effect) error {
				calls.Add(1)
				return nil
			}}})
		record(t, db, "email", "order-9", email{To: "ada@example.com"}, false)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if n, err := r.Round(ctx); n != 1 || err != nil {
			t.Fatalf("Round = %d, %v with its context ended; want 1, nil", n, err)
		}
		if e := effectRow(t, db, "email", "order-9"); !e.done || calls.Load() != 1 {
			t.Fatalf("effect %+v after %d calls; want it done once", e, calls.Load())
		}
	})
}
