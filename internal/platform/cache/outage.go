package cache

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/observability"
)

// warnEvery is the least time between two warnings about a failing store, so
// that an outage logs a line per warnEvery, not one per request.
const warnEvery = 10 * time.Second

// outage tracks the failures of a remote store: it counts each one, warns
// about them at most once per warnEvery (saying how many it did not warn
// about), and after one it asks reads to leave the store alone for cooldown.
type outage struct {
	name     string
	now      func() time.Time
	cooldown time.Duration
	log      *slog.Logger
	errors   *prometheus.CounterVec // by op

	failing   atomic.Bool
	downUntil atomic.Int64 // Unix nanoseconds; 0 when not cooling down

	mu         sync.Mutex
	warnAfter  time.Time
	suppressed int
}

func newOutage(name string, log *slog.Logger, now func() time.Time,
	cooldown time.Duration, errs *prometheus.CounterVec) *outage {
	if name == "" {
		name = defaultName
	}
	return &outage{name: name, log: observability.OrDefault(log), now: now, cooldown: cooldown, errors: errs}
}

// coolingDown reports whether a recent failure asks reads to skip the store.
func (o *outage) coolingDown() bool {
	until := o.downUntil.Load()
	return until != 0 && o.now().UnixNano() < until
}

// failed records that op failed with err. ctx is the caller's context: when
// it is done, the caller gave up, which says nothing about the store.
func (o *outage) failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	o.errors.WithLabelValues(op).Inc()
	o.failing.Store(true)
	now := o.now()
	if o.cooldown > 0 {
		o.downUntil.Store(now.Add(o.cooldown).UnixNano())
	}
	o.mu.Lock()
	if now.Before(o.warnAfter) {
		o.suppressed++
		o.mu.Unlock()
		return
	}
	suppressed := o.suppressed
	o.suppressed = 0
	o.warnAfter = now.Add(warnEvery)
	o.mu.Unlock()
	// Keys are left out: they say nothing about the failure, and some
	// callers may build them from user input.
	o.log.LogAttrs(ctx, slog.LevelWarn, "cache store failed; reading from the database",
		slog.String("cache", o.name), slog.String("op", op),
		slog.String("error", err.Error()), slog.Bool("timeout", isTimeout(err)),
		slog.Int("unlogged_failures", suppressed),
		slog.Duration("cooldown", o.cooldown))
}

// answered records that a call succeeded, ending a cooldown early.
func (o *outage) answered() {
	if !o.failing.Load() || !o.failing.Swap(false) {
		return
	}
	o.downUntil.Store(0)
	o.log.Info("cache store answers again", slog.String("cache", o.name))
}

// isTimeout reports whether err is a deadline passing rather than a refusal
// or a reply.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
