package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
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
			if got.ID == "" {
				t.Errorf("step %d: hit recorded no ID", i)
			}
			got.ID = ""
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
	got.ID = ""
	if n := len(m.log("k").events); n != l.Max+1 {
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
	if m.log("short-0") != nil {
		t.Error("expired key kept after a check")
	}

	// Once a sweep is due, any call drops every expired key.
	clock.Advance(sweepEvery)
	if _, err := m.Check(ctx, "unrelated", short); err != nil {
		t.Fatal(err)
	}
	keys := m.keys()
	kept := m.log("long") != nil
	if keys != 1 || !kept {
		t.Errorf("after the sweep: %d keys (long kept: %v), want only the long one", keys, kept)
	}
}

func TestMemoryAdmitExactly(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	m := NewMemory(MemoryOptions{Clock: clock.Now})
	ctx := context.Background()
	l := Limit{Max: 2, Window: 15 * time.Minute}

	// Events admitted at 0 and 1m; a refused attempt at 5m records nothing.
	tests := []struct {
		advance      time.Duration
		want         Result
		wantRecorded bool
	}{
		{0, Result{Count: 1}, true},
		{time.Minute, Result{Count: 2, Limited: true, RetryAfter: 14 * time.Minute}, true},
		{4 * time.Minute, Result{Count: 3, Limited: true, RetryAfter: 10 * time.Minute}, false},
		{10*time.Minute - time.Nanosecond, Result{Count: 3, Limited: true,
			RetryAfter: time.Nanosecond}, false},
		// The first event leaves at 15m: there is room for one.
		{time.Nanosecond, Result{Count: 2, Limited: true, RetryAfter: time.Minute}, true},
	}
	for i, tt := range tests {
		clock.Advance(tt.advance)
		got, err := m.Admit(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		if (got.ID != "") != tt.wantRecorded {
			t.Errorf("step %d: ID %q, want recorded %v", i, got.ID, tt.wantRecorded)
		}
		got.ID = ""
		if got != tt.want {
			t.Errorf("step %d = %+v, want %+v", i, got, tt.want)
		}
	}

	// A key that Hit filled past Max (Max+1 kept) refuses until its Max-th
	// newest event leaves.
	for range 4 {
		if _, err := m.Hit(ctx, "hit", l); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	got, err := m.Admit(ctx, "hit", l)
	want := Result{Count: 3, Limited: true, RetryAfter: 15*time.Minute - 2*time.Minute}
	if err != nil || got != want {
		t.Errorf("admit to a key hit 4 times = %+v, %v; want %+v", got, err, want)
	}
}

// log returns key's event log, or nil.
func (m *Memory) log(key string) *eventLog {
	s := &m.shards[maphash.String(m.seed, key)%memoryShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs[key]
}

// keys returns how many keys m holds.
func (m *Memory) keys() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.logs)
		s.mu.Unlock()
	}
	return n
}
