// Package testkit holds small helpers that tests across the platform share:
// a clock that moves only when told, a buffer a logger and a test can share,
// a logger for a test, a reader of prometheus counters, running one behaviour
// against several backends, and waiting for a condition with a deadline.
package testkit

import (
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often Eventually and Poll check their condition.
const pollEvery = 5 * time.Millisecond

// Eventually polls cond every 5ms until it holds, failing the test with msg
// (formatted with args) when it does not within timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string,
	args ...any) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("after %s: %s", timeout, fmt.Sprintf(msg, args...))
	}
}

// Poll is Eventually for goroutines that may not fail the test themselves: it
// returns an error when cond does not hold within timeout.
func Poll(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %s", timeout)
		}
		time.Sleep(pollEvery)
	}
	return nil
}
