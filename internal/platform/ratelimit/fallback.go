package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/observability"
)

// FallbackOptions configure a Fallback. The zero value is usable: logs go to
// slog.Default() and metrics to a private registry.
type FallbackOptions struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Timeout bounds each call to the primary store; default 250ms.
	Timeout time.Duration
	// Cooldown is how long the primary store is left alone after it fails,
	// so that an outage costs one slow call per Cooldown, not one per
	// request; default 5s.
	Cooldown time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Fallback is a Store that keeps throttling working when its primary store
// (Redis) does not answer, without ever taking the caller down with it.
//
// Every event is recorded twice: in the primary and in a Memory of this
// process. While the primary answers, its answer counts (shared by every
// replica). When it fails or is slow, Fallback logs a warning, counts the
// error in emporium_ratelimit_store_errors_total{backend}, and answers from
// the Memory for Cooldown before trying the primary again. So an outage fails
// open for availability (logins keep working, a correct password is never
// refused for lack of Redis) but not wide open for attackers: each replica
// still throttles what it sees itself, so the effective limit is at most Max
// per replica rather than none. Events recorded in the process only are not
// copied to the primary when it returns, and a Reset or Forget that misses
// the primary leaves the primary's events to expire by themselves.
//
// Fallback returns an error only for an invalid Limit or a cancelled ctx.
type Fallback struct {
	primary  Store
	local    *Memory
	log      *slog.Logger
	errors   prometheus.Counter
	now      func() time.Time
	timeout  time.Duration
	cooldown time.Duration

	mu        sync.Mutex
	downUntil time.Time // zero while the primary is healthy
}

// NewFallback returns a Fallback in front of primary.
func NewFallback(primary Store, opts FallbackOptions) *Fallback {
	f := &Fallback{
		primary:  primary,
		local:    NewMemory(MemoryOptions{Clock: opts.Clock}),
		log:      observability.OrDefault(opts.Logger),
		now:      opts.Clock,
		timeout:  opts.Timeout,
		cooldown: opts.Cooldown,
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.timeout <= 0 {
		f.timeout = 250 * time.Millisecond
	}
	if f.cooldown <= 0 {
		f.cooldown = 5 * time.Second
	}
	storeErrors := observability.Register(opts.Registerer, prometheus.NewCounterVec(
		prometheus.CounterOpts{
			Name: "emporium_ratelimit_store_errors_total",
			Help: "Rate limit store calls that failed and were answered from " +
				"the process's own counts, by backend.",
		}, []string{"backend"}))
	f.errors = storeErrors.WithLabelValues(backendName(primary))
	return f
}

// Hit records one event for key now and returns the state after it.
func (f *Fallback) Hit(ctx context.Context, key string, l Limit) (Result, error) {
	return f.record(ctx, "hit", key, l, f.local.Hit, f.primary.Hit)
}

// Admit records one event for key now unless key already holds Max events in
// the window. Its Result counts the attempt either way: Count > Max means it
// was refused and nothing was recorded.
func (f *Fallback) Admit(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := f.record(ctx, "admit", key, l, f.local.Admit, f.primary.Admit)
	if err != nil || res.Count <= l.Max {
		return res, err
	}
	// Refused by the primary, the attempt may still have been admitted by the
	// process's copy, which counts only what this process saw: take it back.
	// (When the copy answered, the primary recorded nothing.)
	localID, _ := splitID(res.ID)
	_ = f.local.Forget(ctx, key, localID)
	res.ID = ""
	return res, nil
}

// record runs a recording call on both stores and answers as answer does,
// with an ID that names the event in both.
func (f *Fallback) record(ctx context.Context, op, key string, l Limit,
	local, primary func(context.Context, string, Limit) (Result, error)) (Result, error) {
	loc, err := local(ctx, key, l)
	if err != nil {
		return Result{}, err
	}
	var primaryID string
	res, err := f.answer(ctx, op, loc, func(ctx context.Context) (Result, error) {
		res, err := primary(ctx, key, l)
		if err == nil {
			primaryID = res.ID
		}
		return res, err
	})
	if err != nil {
		return Result{}, err
	}
	res.ID = joinID(loc.ID, primaryID)
	return res, nil
}

// Check returns the state of key without recording anything.
func (f *Fallback) Check(ctx context.Context, key string, l Limit) (Result, error) {
	local, err := f.local.Check(ctx, key, l)
	if err != nil {
		return Result{}, err
	}
	return f.answer(ctx, "check", local, func(ctx context.Context) (Result, error) {
		return f.primary.Check(ctx, key, l)
	})
}

// Reset forgets key's events.
func (f *Fallback) Reset(ctx context.Context, key string) error {
	_ = f.local.Reset(ctx, key)
	_, err := f.answer(ctx, "reset", Result{}, func(ctx context.Context) (Result, error) {
		return Result{}, f.primary.Reset(ctx, key)
	})
	return err
}

// Forget removes the event id from key's events in both stores. When the
// primary is down its copy of the event stays until it leaves the window.
func (f *Fallback) Forget(ctx context.Context, key, id string) error {
	localID, primaryID := splitID(id)
	_ = f.local.Forget(ctx, key, localID)
	if primaryID == "" {
		return nil
	}
	_, err := f.answer(ctx, "forget", Result{}, func(ctx context.Context) (Result, error) {
		return Result{}, f.primary.Forget(ctx, key, primaryID)
	})
	return err
}

// An event's ID in a Fallback is its Memory ID (base 36, never holding the
// separator), the separator, and its ID in the primary ("" when the primary
// did not record it).
const idSeparator = "."

func joinID(local, primary string) string {
	if local == "" && primary == "" {
		return ""
	}
	return local + idSeparator + primary
}

func splitID(id string) (local, primary string) {
	local, primary, _ = strings.Cut(id, idSeparator)
	return local, primary
}

// answer returns the primary's answer, or local when the primary is cooling
// down or fails.
func (f *Fallback) answer(ctx context.Context, op string, local Result,
	call func(context.Context) (Result, error)) (Result, error) {
	if f.coolingDown() {
		return local, nil
	}
	callCtx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	res, err := call(callCtx)
	if err == nil {
		f.recovered()
		return res, nil
	}
	if ctx.Err() != nil {
		// The caller gave up; that says nothing about the primary.
		return Result{}, fmt.Errorf("ratelimit: %s: %w", op, ctx.Err())
	}
	f.failed(ctx, op, err)
	return local, nil
}

func (f *Fallback) coolingDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.downUntil.IsZero() && f.now().Before(f.downUntil)
}

func (f *Fallback) failed(ctx context.Context, op string, err error) {
	f.errors.Inc()
	f.mu.Lock()
	f.downUntil = f.now().Add(f.cooldown)
	f.mu.Unlock()
	// The key is left out: it holds an email or a client address.
	f.log.LogAttrs(ctx, slog.LevelWarn,
		"rate limit store failed; counting in this process only",
		slog.String("op", op), slog.String("error", err.Error()),
		slog.Duration("retry_in", f.cooldown))
}

func (f *Fallback) recovered() {
	f.mu.Lock()
	was := !f.downUntil.IsZero()
	f.downUntil = time.Time{}
	f.mu.Unlock()
	if was {
		f.log.Info("rate limit store answers again")
	}
}

// backendName labels a store in metrics.
func backendName(s Store) string {
	switch s.(type) {
	case *Redis:
		return "redis"
	case *Memory:
		return "memory"
	default:
		return "other"
	}
}
