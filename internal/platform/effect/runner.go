package effect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/wakeup"
)

// RunnerConfig tunes a Runner. Zero values take the defaults.
type RunnerConfig struct {
	// Handlers perform the effects, by kind. Required. Effects of other
	// kinds are left for a Runner that knows them (a newer version).
	Handlers map[string]Handler
	// MaxAttempts is how many attempts an effect gets before it is marked
	// failed; 12 when zero, which with the default Backoff retries for about
	// three and a half hours.
	MaxAttempts int
	// Backoff spaces the attempts of an effect; 10s doubling to 1h, with 20%
	// jitter, when zero.
	Backoff backoff.Policy
	// Timeout bounds one handler call; 30s when zero. An effect is claimed for
	// twice as long: if its runner dies meanwhile, another performs it after
	// that. A handler that ignores its context past the claim may run beside
	// that other attempt.
	Timeout time.Duration
	// Concurrency is how many effects are performed at once; 4 when zero.
	Concurrency int
	// PollInterval is the longest an idle runner waits before it looks for
	// due effects again: 1s on PostgreSQL, where other replicas record
	// effects too; 10s on SQLite, whose every writer is this process. Either
	// way a commit in this process that records an effect wakes the runner
	// at once, and a runner whose next effect falls due sooner (a retry, a
	// claim running out) looks again then.
	PollInterval time.Duration
	// Retention is how long done effects are kept; 7 days when zero. Failed
	// ones are kept until an operator deletes them.
	Retention  time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock; time.Now when nil. Tests set it.
	Now func() time.Time
}

// Runner performs recorded effects with their handlers. Its only state is
// the effects table, so it can stop at any point and another carries on.
// Several runners may share a database: on PostgreSQL each claims effects
// with FOR UPDATE SKIP LOCKED, on SQLite through the one writer, so no effect
// is performed by two runners at once (within its claim; see Timeout).
type Runner struct {
	db      *sqldb.DB
	cfg     RunnerConfig
	log     *slog.Logger
	kinds   []string // of cfg.Handlers, sorted; the claim's parameters $4…
	results *prometheus.CounterVec
	// listening is true while Run listens for commits of the runner's kinds
	// (see commits), for tests.
	listening atomic.Bool
}

// claimTimeout bounds a round's look-up and claim, which its context does
// not cut short (see round): what a stop may wait for them while the
// database does not answer.
const claimTimeout = 5 * time.Second

// dbPolicy spaces a runner's rounds while the database fails.
var dbPolicy = backoff.Policy{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.2}

// NewRunner returns a runner of db's effects.
func NewRunner(db *sqldb.DB, cfg RunnerConfig) *Runner {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
	}
	if cfg.Backoff == (backoff.Policy{}) {
		cfg.Backoff = backoff.Policy{Initial: 10 * time.Second, Max: time.Hour, Jitter: 0.2}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
		if db.Dialect() == sqldb.SQLite {
			cfg.PollInterval = 10 * time.Second
		}
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Handlers = maps.Clone(cfg.Handlers)
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Runner{db: db, cfg: cfg,
		log:   observability.OrDefault(cfg.Logger).With("component", "effect-runner"),
		kinds: slices.Sorted(maps.Keys(cfg.Handlers)),
		results: observability.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "emporium_effects_total",
			Help: "Effect attempts, by kind and result (done; retry: failed, tried again " +
				"later; failed: given up, an operator must look).",
		}, []string{"kind", "result"})),
	}
}

// Run performs effects as they fall due until ctx ends, then returns nil once
// the handlers in progress have finished (each within Timeout). While the
// database fails it backs off, logging a warning.
func (r *Runner) Run(ctx context.Context) error {
	if len(r.kinds) == 0 {
		return errors.New("effect runner: no handlers")
	}
	wake, stop := commits.Listen(func(kind string) bool {
		_, ok := r.cfg.Handlers[kind]
		return ok
	})
	defer stop()
	r.listening.Store(true)
	defer r.listening.Store(false)
	failures := 0
	nextCleanup := time.Time{}
	for {
		n, next, err := r.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			delay := dbPolicy.Delay(failures)
			r.log.Warn("effect runner: round failed, backing off", "err", err,
				"failures", failures, "retry_in", delay)
			if !backoff.Sleep(ctx, delay) {
				return nil
			}
			continue
		}
		failures = 0
		if now := time.Now(); now.After(nextCleanup) {
			if err := r.cleanup(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("effect runner: cleanup", "err", err)
			}
			nextCleanup = now.Add(time.Hour)
		}
		if n > 0 {
			continue // more may be due, or fall due soon (a retry of what just failed)
		}
		if !wakeup.Sleep(ctx, r.idle(next), wake) {
			return nil
		}
	}
}

// idle is how long an idle runner waits before it looks again: until next
// (when the earliest pending effect falls due; zero when there is none), at
// most PollInterval, unless a commit in this process records an effect.
func (r *Runner) idle(next time.Time) time.Duration {
	if next.IsZero() {
		return r.cfg.PollInterval
	}
	return min(r.cfg.PollInterval, max(next.Sub(r.cfg.Now()), 10*time.Millisecond))
}

// round claims the effects due now, up to Concurrency, performs them and
// reports how many it claimed. A round, once begun, runs to its end whatever
// ctx does — its look-up and its claim each within claimTimeout, its
// handlers each within Timeout: a claim whose commit ctx cut short may still
// have been made by the database, and its effects would then wait, claimed
// and not performed, until the claim ran out (2 × Timeout: a minute by
// default, during which a cancelled order's stock stayed held).
func (r *Runner) round(ctx context.Context) (n int, next time.Time, err error) {
	ctx = context.WithoutCancel(ctx)
	now := r.cfg.Now().UTC()
	// A read first, so that an idle runner never takes SQLite's one writer.
	dueCtx, cancel := context.WithTimeout(ctx, claimTimeout)
	next, err = r.nextDue(dueCtx)
	cancel()
	if err != nil || next.IsZero() || next.After(now) {
		return 0, next, err
	}
	claim := uuid.NewString()
	claimCtx, cancel := context.WithTimeout(ctx, claimTimeout)
	effects, err := r.claim(claimCtx, now, claim)
	cancel()
	if err != nil {
		return 0, time.Time{}, err
	}
	var wg sync.WaitGroup
	for _, e := range effects {
		wg.Go(func() { r.perform(ctx, e, claim) })
	}
	wg.Wait()
	return len(effects), time.Time{}, nil
}

// kindParams returns the placeholders $first… for r.kinds, and the kinds as
// arguments.
func (r *Runner) kindParams(first int) (string, []any) {
	ps := make([]string, len(r.kinds))
	args := make([]any, len(r.kinds))
	for i, k := range r.kinds {
		ps[i], args[i] = "$"+strconv.Itoa(first+i), k
	}
	return strings.Join(ps, ", "), args
}

// nextDue returns when the earliest of the pending effects of r's kinds
// falls due (or fell due), or the zero time when there is none.
func (r *Runner) nextDue(ctx context.Context) (time.Time, error) {
	in, kinds := r.kindParams(1)
	var next time.Time
	err := r.db.QueryRowContext(ctx, `SELECT next_attempt_at FROM effects
		WHERE done_at IS NULL AND failed_at IS NULL AND kind IN (`+in+`)
		ORDER BY next_attempt_at LIMIT 1`, kinds...).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("effect runner: look for due effects: %w", err)
	}
	return next.UTC(), nil
}

// claimQuery takes up to $3 due effects for one claim ($2) until $1. The due
// conditions are repeated outside the subquery so that PostgreSQL checks them
// again on a row another runner changed meanwhile.
const claimQuery = `UPDATE effects SET attempts = attempts + 1, next_attempt_at = $1, claim = $2
	WHERE id IN (SELECT id FROM effects
		WHERE done_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $4
		AND kind IN (%[1]s)
		ORDER BY next_attempt_at LIMIT $3 %[2]s)
	AND done_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $4
	RETURNING id, kind, key, payload, attempts, created_at`

// claim marks the effects due at now as claimed by claim until the claim
// runs out, counting an attempt, and returns them.
func (r *Runner) claim(ctx context.Context, now time.Time, claim string) ([]Effect, error) {
	in, kinds := r.kindParams(5)
	lock := "" // SQLite: the transaction holds the one writer
	if r.db.Dialect() == sqldb.Postgres {
		lock = "FOR UPDATE SKIP LOCKED"
	}
	query := fmt.Sprintf(claimQuery, in, lock)
	args := append([]any{now.Add(2 * r.cfg.Timeout), claim, r.cfg.Concurrency, now}, kinds...)
	var effects []Effect
	err := r.db.Tx(ctx, func(tx *sqldb.Tx) error {
		effects = effects[:0]
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e Effect
			var payload string
			if err := rows.Scan(&e.ID, &e.Kind, &e.Key, &payload, &e.Attempt,
				&e.CreatedAt); err != nil {
				return err
			}
			e.Payload = []byte(payload)
			effects = append(effects, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("effect runner: claim: %w", err)
	}
	return effects, nil
}

// perform runs e's handler and records the outcome. A handler in progress
// when ctx ends is let finish, within Timeout, so that stopping the process
// does not count as a failed attempt.
func (r *Runner) perform(ctx context.Context, e Effect, claim string) {
	log := r.log.With("effect_id", e.ID, "kind", e.Kind, "key", e.Key, "attempt", e.Attempt)
	err := r.call(context.WithoutCancel(ctx), log, e)
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := r.cfg.Now().UTC()
	var res sql.Result
	var result string
	switch {
	case err == nil:
		result = "done"
		res, err = r.db.ExecContext(markCtx, `UPDATE effects SET done_at = $1, claim = NULL
			WHERE id = $2 AND claim = $3`, now, e.ID, claim)
	case bus.IsPermanent(err) || e.Attempt >= r.cfg.MaxAttempts:
		result = "failed"
		log.Error("effect runner: effect failed for good; it stays in the effects table "+
			"for an operator", "err", err, "permanent", bus.IsPermanent(err))
		res, err = r.db.ExecContext(markCtx, `UPDATE effects SET failed_at = $1,
			last_error = $2, claim = NULL WHERE id = $3 AND claim = $4`,
			now, errorText(err), e.ID, claim)
	default:
		result = "retry"
		delay := r.cfg.Backoff.Delay(e.Attempt)
		log.Warn("effect runner: effect failed, will retry", "err", err, "retry_in", delay,
			"max_attempts", r.cfg.MaxAttempts)
		res, err = r.db.ExecContext(markCtx, `UPDATE effects SET next_attempt_at = $1,
			last_error = $2, claim = NULL WHERE id = $3 AND claim = $4`,
			now.Add(delay), errorText(err), e.ID, claim)
	}
	r.results.WithLabelValues(e.Kind, result).Inc()
	if err != nil {
		// The claim runs out and the effect is attempted again.
		log.Error("effect runner: recording the outcome", "result", result, "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n == 0 {
		log.Warn("effect runner: the claim ran out before the outcome was recorded; "+
			"another attempt may have run", "result", result)
	}
}

// call runs the handler within Timeout, turning a panic into an error.
func (r *Runner) call(ctx context.Context, log *slog.Logger, e Effect) (err error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			log.Error("effect runner: handler panic", "panic", p)
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return r.cfg.Handlers[e.Kind](ctx, e)
}

// errorText bounds an error for the last_error column.
func errorText(err error) string {
	s := err.Error()
	if len(s) > 2000 {
		s = strings.ToValidUTF8(s[:2000], "")
	}
	return s
}

// cleanupChunk bounds one delete, so SQLite's writer is never held for long.
const cleanupChunk = 1000

// cleanup deletes effects done more than Retention ago.
func (r *Runner) cleanup(ctx context.Context) error {
	cutoff := r.cfg.Now().UTC().Add(-r.cfg.Retention)
	for {
		res, err := r.db.ExecContext(ctx, `DELETE FROM effects WHERE id IN (
			SELECT id FROM effects WHERE done_at < $1 LIMIT $2)`, cutoff, cleanupChunk)
		if err != nil {
			return fmt.Errorf("effect runner: cleanup: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n < cleanupChunk {
			return err
		}
	}
}
