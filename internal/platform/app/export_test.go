package app

import (
	"context"
	"sync"
	"testing"
	"time"
)

// HoldDrains makes every drain that starts before the test ends last, whatever
// its length, until release is called (at the latest at cleanup), so that a
// test can look at a process while it drains. A test that calls it must not
// run in parallel with others of the package.
func HoldDrains(t testing.TB) (release func()) {
	hold := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	old := drainWait
	drainWait = func(ctx context.Context, _ time.Duration) bool {
		select {
		case <-hold:
			return true
		case <-ctx.Done():
			return false
		}
	}
	t.Cleanup(func() {
		release()
		drainWait = old
	})
	return release
}
