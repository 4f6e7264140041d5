package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"emporium/internal/platform/testkit"
)

// These tests drive Memory with a fake clock, for exact times.

func TestMemorySlidingLogExactly(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	m := NewMemory(MemoryOptions{Clock: clock.Now})
	ctx := context.Background()
	l := Limit{Max: 3, Window: 15 * time.Minute}

	// Events at 0, 1m and 2m, then the clock moves on; each step is one call.
	tests := []struct {
		advance time.Duration
		hit     bool
		want    Result
	}{
		{0, true, Result{Count: 1}},
		{time.Minute, true, Result{Count: 2}},
		{time.Minute, true, Result{Count: 3, Limited: true, RetryAfter: 13 * time.Minute}},
		{10 * time.Minute, false, Result{Count: 3, Limited: true, RetryAfter: 3 * time.Minute}},
		// 15m after the first event it has left: a window is half-open.
		{3*time.Minute - time.Nanosecond, false,
			Result{Count: 3, Limited: true, RetryAfter: time.Nanosecond}},
		{time.Nanosecond, false, Result{Count: 2}},
		{time.Minute, false, Result{Count: 1}},
		{time.Minute, false, Result{}},
		{0, true, Result{Count: 1}},
	}
	for i, tt := range tests {
		clock.Advance(tt.advance)
		var got Result
		var err error
		if tt.hit {
			got, err = m.Hit(ctx, "k", l)
		} else {
			got, err = m.Check(ctx, "k", l)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("step %d (hit %v) = %+v, want %+v", i, tt.hit, got, tt.want)
		}
	}
}

func TestMemoryKeepsAtMostMaxPlusOneEventsPerKey(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	m := NewMemory(MemoryOptions{Clock: clock.Now})
	ctx := context.Background()
	l := Limit{Max: 10, Window: 15 * time.Minute}
	var got Result
	for range 25 { // one a second
		var err error
		if got, err = m.Hit(ctx, "k", l); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	if n := len(m.logs["k"].at); n != l.Max+1 {
		t.Errorf("kept %d events, want %d", n, l.Max+1)
	}
	// The 10th newest event is 9s older than the last, which was just now.
	want := Result{Count: 11, Limited: true, RetryAfter: 15*time.Minute - 9*time.Second}
	if got != want {
		t.Errorf("25th hit = %+v, want %+v", got, want)
	}
	// A smaller Max (configuration changed) still answers from the newest.
	got, err := m.Check(ctx, "k", Limit{Max: 5, Window: l.Window})
	want = Result{Count: 6, Limited: true, RetryAfter: 15*time.Minute - 5*time.Second}
	if err != nil || got != want {
		t.Errorf("check with Max 5 = %+v, %v; want %+v", got, err, want)
	}
}

func TestMemoryDropsExpiredKeys(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	m := NewMemory(MemoryOptions{Clock: clock.Now})
	ctx := context.Background()
	short := Limit{Max: 5, Window: time.Second}
	long := Limit{Max: 5, Window: time.Hour}
	for i := range 1000 {
		if _, err := m.Hit(ctx, fmt.Sprintf("short-%d", i), short); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Hit(ctx, "long", long); err != nil {
		t.Fatal(err)
	}

	// A check of an expired key drops it at once.
	clock.Advance(2 * time.Second)
	if _, err := m.Check(ctx, "short-0", short); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.logs["short-0"]; ok {
		t.Error("expired key kept after a check")
	}

	// Once a sweep is due, any call drops every expired key.
	clock.Advance(sweepEvery)
	if _, err := m.Check(ctx, "unrelated", short); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	keys := len(m.logs)
	_, kept := m.logs["long"]
	m.mu.Unlock()
	if keys != 1 || !kept {
		t.Errorf("after the sweep: %d keys (long kept: %v), want only the long one", keys, kept)
	}
}
