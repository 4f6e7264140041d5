// Package ratelimit counts events per key in sliding windows, for throttling:
// failed logins per account and per client address, registrations per
// address.
//
// Memory keeps the counts in the process (the all-in-one); Redis keeps them in
// Redis so that every replica of a service sees the same counts. A Redis
// outage must not take login down, so a distributed service wraps its Redis
// store in a Fallback, which answers from a copy of the counts kept in the
// process while Redis does not answer:
//
//	var store ratelimit.Store = ratelimit.NewMemory(ratelimit.MemoryOptions{})
//	if redisURL != "" {
//		client, err := redisconn.Open(ctx, redisURL)
//		...
//		store = ratelimit.NewFallback(ratelimit.NewRedis(client, "identity:"),
//			ratelimit.FallbackOptions{Logger: log, Registerer: reg})
//	}
//
// Two ways to use a Store:
//
//   - Admission where only failures count (logins): Admit the attempt under
//     each of its keys before making it, and refuse it when any Count > Max
//     (Forget the events the other keys recorded for it). Once the attempt
//     turns out not to be a failure, Forget its events (or Reset a key to
//     clear it). An attempt in flight holds its place, so at most Max
//     attempts per window get through whatever the concurrency, and a refused
//     attempt leaves nothing behind.
//   - Admission where every attempt counts (registrations): Hit on every
//     attempt and refuse the attempt when Count > Max: exactly Max attempts
//     per window get through, even under concurrency, because the hit and
//     the count are one atomic step.
//
// Checking a key before an attempt and hitting it only after the attempt
// failed is not safe: every concurrent attempt passes the check before any
// of them is counted.
package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Limit is Max events per sliding Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// Result is the state of a key after a Hit or an Admit, or at a Check.
type Result struct {
	// Count is the number of events in the window (for Hit and Admit,
	// including the attempt just made, even when Admit refused to record
	// it). It is exact up to Max+1 and saturates there: older events are not
	// kept, as they change no answer.
	Count int
	// Limited reports Count >= Max: the key is at or over its limit, and the
	// next event would be over it.
	Limited bool
	// RetryAfter is, when Limited, how long until enough events leave the
	// window for Count to drop below Max (the Max-th newest event leaves).
	// It is zero when not Limited.
	RetryAfter time.Duration
	// ID names the event that a Hit or an Admit recorded, for Forget. It is
	// empty when nothing was recorded (a Check, or an Admit that refused).
	ID string
}

// Store counts events per key in sliding windows. Memory, Redis and Fallback
// implement it; it is declared here because a service picks one of them at
// start.
type Store interface {
	// Hit records one event for key now and returns the state after it.
	Hit(ctx context.Context, key string, l Limit) (Result, error)
	// Admit records one event for key now unless key already holds Max
	// events in the window, atomically. Its Result counts the attempt either
	// way: Count > Max means it was refused and nothing was recorded.
	Admit(ctx context.Context, key string, l Limit) (Result, error)
	// Forget removes the event id (a Result.ID of key) from key's events.
	// An event that is no longer kept (it left the window, was dropped as
	// one of more than Max+1, or its key was reset) is ignored, as is an
	// empty id.
	Forget(ctx context.Context, key, id string) error
	// Check returns the state of key without recording anything.
	Check(ctx context.Context, key string, l Limit) (Result, error)
	// Reset forgets key's events.
	Reset(ctx context.Context, key string) error
}

// minWindow is the shortest window: Redis expires keys in milliseconds.
const minWindow = time.Millisecond

func (l Limit) validate() error {
	if l.Max < 1 || l.Window < minWindow {
		return fmt.Errorf("invalid limit %d per %s: want Max >= 1 and Window >= %s",
			l.Max, l.Window, minWindow)
	}
	return nil
}

// newResult builds the answer for count events in the window, where nth is
// how long the Max-th newest event (if count >= Max) stays in the window.
func newResult(count int, l Limit, nth time.Duration) Result {
	if count < l.Max {
		return Result{Count: count}
	}
	return Result{Count: min(count, l.Max+1), Limited: true, RetryAfter: nth}
}
