package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/testkit"
)

// The tests in this file hold every Store to the same behaviour, on the real
// clock with short windows: Memory always, Redis and Fallback over Redis when
// EMPORIUM_TEST_REDIS_URL is set.

// clockSlack absorbs the difference between the test's clock readings and the
// store's (Redis reads the same system clock, through TIME).
const clockSlack = 5 * time.Millisecond

func TestHitCountsAndLimitsAtMax(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 3, Window: time.Minute}
		tests := []struct {
			wantCount   int
			wantLimited bool
		}{
			{1, false},
			{2, false},
			{3, true}, // the Max-th event limits the key: the next one is refused
			{4, true}, // over the limit: an admission check refuses Count > Max
			{4, true}, // saturates at Max+1
		}
		for i, tt := range tests {
			got, err := s.Hit(ctx, "k", l)
			if err != nil {
				t.Fatalf("hit %d: %v", i+1, err)
			}
			if got.Count != tt.wantCount || got.Limited != tt.wantLimited {
				t.Errorf("hit %d = {Count %d, Limited %v}, want {%d, %v}",
					i+1, got.Count, got.Limited, tt.wantCount, tt.wantLimited)
			}
			if tt.wantLimited != (got.RetryAfter > 0) || got.RetryAfter > l.Window {
				t.Errorf("hit %d: RetryAfter = %s, want in (0, %s] only when limited",
					i+1, got.RetryAfter, l.Window)
			}
		}
		got, err := s.Check(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		if got.Count != 4 || !got.Limited {
			t.Errorf("check = %+v, want Count 4, Limited", got)
		}
	})
}

func TestCheckDoesNotRecord(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 2, Window: time.Minute}
		for range 5 {
			if got, err := s.Check(ctx, "k", l); err != nil || got != (Result{}) {
				t.Fatalf("check of an unused key = %+v, %v; want zero", got, err)
			}
		}
		if _, err := s.Hit(ctx, "k", l); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if got, err := s.Check(ctx, "k", l); err != nil || got != (Result{Count: 1}) {
				t.Fatalf("check after one hit = %+v, %v; want Count 1", got, err)
			}
		}
	})
}

func TestRetryAfterIsWhenTheOldestCountedEventLeaves(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 2, Window: time.Second}
		beforeFirst := time.Now()
		if _, err := s.Hit(ctx, "k", l); err != nil {
			t.Fatal(err)
		}
		afterFirst := time.Now()
		elapseUntil(beforeFirst.Add(400 * time.Millisecond))
		beforeSecond := time.Now()
		got, err := s.Hit(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		afterSecond := time.Now()
		if !got.Limited {
			t.Fatalf("second hit of Max 2 = %+v, want limited", got)
		}
		// The first event happened in [beforeFirst, afterFirst] and the
		// answer was computed in [beforeSecond, afterSecond].
		lo := beforeFirst.Add(l.Window).Sub(afterSecond) - clockSlack
		hi := afterFirst.Add(l.Window).Sub(beforeSecond) + clockSlack
		if got.RetryAfter < lo || got.RetryAfter > hi {
			t.Errorf("RetryAfter = %s, want in [%s, %s]", got.RetryAfter, lo, hi)
		}

		var res Result
		testkit.Eventually(t, l.Window+3*time.Second, func() bool {
			res, err = s.Check(ctx, "k", l)
			return err != nil || !res.Limited
		}, "key still limited")
		freed := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		if earliest := beforeFirst.Add(l.Window - clockSlack); freed.Before(earliest) {
			t.Errorf("freed %s before the first event could leave the window",
				earliest.Sub(freed))
		}
		// Only the first event has left; the second counts until its own
		// time comes.
		if res.Count != 1 && freed.Before(beforeSecond.Add(l.Window)) {
			t.Errorf("after the first event left: Count = %d, want 1", res.Count)
		}
	})
}

func TestWindowSlides(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 3, Window: time.Second}
		check := func() Result {
			t.Helper()
			res, err := s.Check(ctx, "k", l)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		start := time.Now()
		if _, err := s.Hit(ctx, "k", l); err != nil {
			t.Fatal(err)
		}
		elapseUntil(start.Add(500 * time.Millisecond))
		laterStart := time.Now()
		for range 2 {
			if _, err := s.Hit(ctx, "k", l); err != nil {
				t.Fatal(err)
			}
		}
		if got := check(); got.Count != 3 || !got.Limited {
			t.Fatalf("after 3 hits = %+v, want Count 3, Limited", got)
		}

		// The first event leaves alone: the two later ones still count.
		var got Result
		testkit.Eventually(t, l.Window+3*time.Second, func() bool {
			got = check()
			return got.Count < 3
		}, "first event never left")
		if got.Count != 2 || got.Limited {
			t.Errorf("after the first event left = %+v, want Count 2, not limited", got)
		}
		if earliest := start.Add(l.Window - clockSlack); time.Now().Before(earliest) {
			t.Errorf("count dropped before the first event was %s old", l.Window)
		}

		testkit.Eventually(t, l.Window+3*time.Second, func() bool {
			return check().Count == 0
		}, "later events never left")
		if earliest := laterStart.Add(l.Window - clockSlack); time.Now().Before(earliest) {
			t.Errorf("count reached 0 before the later events were %s old", l.Window)
		}
	})
}

func TestResetForgetsOneKey(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 2, Window: time.Minute}
		for _, key := range []string{"acct", "acct", "addr"} {
			if _, err := s.Hit(ctx, key, l); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Reset(ctx, "acct"); err != nil {
			t.Fatal(err)
		}
		if err := s.Reset(ctx, "never-used"); err != nil {
			t.Errorf("reset of an unused key: %v", err)
		}
		tests := []struct {
			key  string
			want Result
		}{
			{"acct", Result{}},
			{"addr", Result{Count: 1}},
		}
		for _, tt := range tests {
			got, err := s.Check(ctx, tt.key, l)
			if err != nil || got != tt.want {
				t.Errorf("check %s after reset = %+v, %v; want %+v", tt.key, got, err, tt.want)
			}
		}
		if got, err := s.Hit(ctx, "acct", l); err != nil || got.Count != 1 {
			t.Errorf("hit after reset = %+v, %v; want Count 1", got, err)
		}
	})
}

func TestKeysAreIndependent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 3, Window: time.Minute}
		hits := map[string]int{"login:acct:a@example.com": 3, "login:acct:b@example.com": 1,
			"login:addr:192.0.2.1": 2}
		for key, n := range hits {
			for range n {
				if _, err := s.Hit(ctx, key, l); err != nil {
					t.Fatal(err)
				}
			}
		}
		for key, n := range hits {
			got, err := s.Check(ctx, key, l)
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != n || got.Limited != (n >= l.Max) {
				t.Errorf("check %s = %+v, want Count %d", key, got, n)
			}
		}
	})
}

func TestInvalidLimitIsAnError(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		for _, l := range []Limit{{0, time.Minute}, {-1, time.Minute}, {5, 0},
			{5, time.Microsecond}} {
			if _, err := s.Hit(ctx, "k", l); err == nil {
				t.Errorf("Hit with %+v: no error", l)
			}
			if _, err := s.Check(ctx, "k", l); err == nil {
				t.Errorf("Check with %+v: no error", l)
			}
		}
	})
}

func TestConcurrentHitsCountExactly(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		const goroutines, each = 50, 20
		l := Limit{Max: 10_000, Window: time.Minute}
		hitAll(t, goroutines, func() {
			for range each {
				if _, err := s.Hit(ctx, "many", l); err != nil {
					t.Error(err)
					return
				}
			}
		})
		got, err := s.Check(ctx, "many", l)
		if err != nil {
			t.Fatal(err)
		}
		if got.Count != goroutines*each {
			t.Errorf("Count = %d, want %d", got.Count, goroutines*each)
		}
	})
}

func TestConcurrentAdmissionLetsExactlyMaxThrough(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 20, Window: time.Minute}
		var mu sync.Mutex
		admitted, unlimited := 0, 0
		hitAll(t, 50, func() {
			res, err := s.Hit(ctx, "registrations", l)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Count <= l.Max {
				admitted++
			}
			if !res.Limited {
				unlimited++
			}
		})
		if admitted != l.Max {
			t.Errorf("admitted %d of 50 (Count <= Max), want %d", admitted, l.Max)
		}
		if unlimited != l.Max-1 {
			t.Errorf("%d of 50 hits left the key unlimited, want %d", unlimited, l.Max-1)
		}
	})
}

// hitAll runs fn in n goroutines started together and waits for them.
func hitAll(t *testing.T, n int, fn func()) {
	t.Helper()
	var start, done sync.WaitGroup
	start.Add(1)
	for range n {
		done.Go(func() {
			start.Wait()
			fn()
		})
	}
	start.Done()
	done.Wait()
}
