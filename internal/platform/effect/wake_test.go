package effect_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// An idle runner polls seldom (an hour here), yet performs an effect as soon
// as a commit in its process records it, and a retry as soon as it falls
// due: neither waits for the poll.
func TestIdleRunnerWakes(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		var calls atomic.Int32
		r := effect.NewRunner(db, effect.RunnerConfig{PollInterval: time.Hour,
			Backoff: backoff.Policy{Initial: 200 * time.Millisecond, Max: time.Second},
			Logger:  testkit.Logger(t, io.Discard),
			Handlers: map[string]effect.Handler{"email": func(context.Context, effect.Effect) error {
				if calls.Add(1) == 1 {
					return errors.New("the mail server is down")
				}
				return nil
			}}})
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { r.Run(ctx) })
		defer func() { cancel(); wg.Wait() }()

		testkit.Eventually(t, 10*time.Second, r.Listening, "the runner did not start")
		record(t, db, "email", "order-1", email{To: "ada@example.com"}, false)
		testkit.Eventually(t, 20*time.Second, func() bool {
			return effectRow(t, db, "email", "order-1").done
		}, "the effect is not done (%d attempts)", calls.Load())
		if got := calls.Load(); got != 2 {
			t.Errorf("%d attempts, want 2 (a failure and its retry)", got)
		}
	})
}
