// Package periodic runs a function every interval until its context ends:
// the shape of every sweeper, reconciler and janitor of the services, written
// once.
package periodic

import (
	"context"
	"time"
)

// Every returns a loop that calls fn every interval, the first time one
// interval after it starts, until ctx ends. The loop returns nil when ctx
// ends, and the error of a call that fails while ctx lives, for its caller
// to restart it after a pause (as the app package does with its workers).
func Every(interval time.Duration, fn func(context.Context) error) func(context.Context) error {
	return loop(interval, false, fn)
}

// NowAndEvery is Every with a first call as soon as the loop starts.
func NowAndEvery(interval time.Duration, fn func(context.Context) error) func(context.Context) error {
	return loop(interval, true, fn)
}

func loop(interval time.Duration, now bool, fn func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if now {
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					return err
				}
			}
			now = true
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	}
}
