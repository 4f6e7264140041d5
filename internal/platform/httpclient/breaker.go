package httpclient

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"
)

func (c *Client) newBreaker(cfg BreakerConfig) *gobreaker.CircuitBreaker[*answer] {
	failures := orDefault(cfg.Failures, DefaultBreakerFailures)
	return gobreaker.NewCircuitBreaker[*answer](gobreaker.Settings{
		Name:        c.name,
		MaxRequests: orDefault(cfg.HalfOpenRequests, DefaultHalfOpenRequests),
		Timeout:     c.openFor,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return n.ConsecutiveFailures >= failures
		},
		// The caller giving up says nothing about the downstream's health.
		IsExcluded: func(err error) bool {
			var ended *callerEnded
			return errors.As(err, &ended)
		},
		OnStateChange: c.breakerChanged,
	})
}

// breakerChanged runs under the breaker's lock, so it must not call the breaker.
func (c *Client) breakerChanged(_ string, from, to gobreaker.State) {
	if to == gobreaker.StateOpen {
		now := time.Now()
		c.openedAt.Store(&now)
	}
	// gobreaker numbers its states as the gauge does: 0 closed, 1 half-open, 2 open.
	c.metrics.breakerState.Set(float64(to))
	c.log.Warn("circuit breaker state changed",
		slog.String("from", from.String()), slog.String("to", to.String()))
}

// breakerError answers a call the breaker refused, hinting when to come back:
// the rest of the open period, or one attempt's timeout while half-open probes
// are in flight.
func (c *Client) breakerError(err error) error {
	wait := c.timeout
	if errors.Is(err, gobreaker.ErrOpenState) {
		wait = c.openFor
		if at := c.openedAt.Load(); at != nil {
			wait = c.openFor - time.Since(*at)
		}
	}
	return c.unavailable(err, max(wait, time.Millisecond))
}

// callerEnded is an attempt that failed because the caller's context ended —
// canceled, or past the caller's own deadline — rather than because the
// downstream failed or outlasted the per-attempt Timeout. The breaker counts
// it neither way: a caller with a short budget must not open the breaker for
// everyone.
type callerEnded struct{ err error }

func (e *callerEnded) Error() string { return e.err.Error() }
func (e *callerEnded) Unwrap() error { return e.err }

// attempt is one call of send, classified for the breaker: a failure while
// ctx (the caller's) has ended is a callerEnded.
func (c *Client) attempt(ctx context.Context, k *call) (*answer, error) {
	ans, err := c.send(ctx, k)
	if err != nil && ctx.Err() != nil {
		return ans, &callerEnded{err: err}
	}
	return ans, err
}
