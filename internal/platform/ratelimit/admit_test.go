package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// The tests in this file hold every Store to the same Admit and Forget
// behaviour (see store_test.go).

func TestAdmitRecordsOnlyWhileUnderMax(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 3, Window: time.Minute}
		tests := []struct {
			wantCount    int
			wantLimited  bool
			wantRecorded bool
		}{
			{1, false, true},
			{2, false, true},
			{3, true, true},  // the Max-th attempt gets in and fills the key
			{4, true, false}, // refused: Count > Max, nothing recorded
			{4, true, false},
		}
		for i, tt := range tests {
			got, err := s.Admit(ctx, "k", l)
			if err != nil {
				t.Fatalf("admit %d: %v", i+1, err)
			}
			if got.Count != tt.wantCount || got.Limited != tt.wantLimited ||
				(got.ID != "") != tt.wantRecorded {
				t.Errorf("admit %d = %+v, want {Count %d, Limited %v, recorded %v}",
					i+1, got, tt.wantCount, tt.wantLimited, tt.wantRecorded)
			}
			if tt.wantLimited != (got.RetryAfter > 0) || got.RetryAfter > l.Window {
				t.Errorf("admit %d: RetryAfter = %s, want in (0, %s] only when limited",
					i+1, got.RetryAfter, l.Window)
			}
		}
		// The refused attempts left nothing behind.
		got, err := s.Check(ctx, "k", l)
		if err != nil || got.Count != 3 || !got.Limited {
			t.Errorf("check after 5 admits of Max 3 = %+v, %v; want Count 3, limited", got, err)
		}
	})
}

func TestForgetRemovesOneEvent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 3, Window: time.Minute}
		var ids []string
		for range 3 {
			res, err := s.Hit(ctx, "k", l)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, res.ID)
		}
		if ids[0] == "" || ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
			t.Fatalf("hits got IDs %q, want three distinct ones", ids)
		}
		if _, err := s.Hit(ctx, "other", l); err != nil {
			t.Fatal(err)
		}
		check := func(key string) Result {
			t.Helper()
			res, err := s.Check(ctx, key, l)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}

		if err := s.Forget(ctx, "k", ids[1]); err != nil {
			t.Fatal(err)
		}
		if got := check("k"); got != (Result{Count: 2}) {
			t.Errorf("after forgetting one of 3 events: %+v, want Count 2, not limited", got)
		}
		// Forgetting again, an empty id, another key's event or an unused
		// key changes nothing.
		for _, f := range []struct{ key, id string }{
			{"k", ids[1]}, {"k", ""}, {"other", ids[0]}, {"never-used", ids[2]},
		} {
			if err := s.Forget(ctx, f.key, f.id); err != nil {
				t.Errorf("forget %q of %s: %v", f.id, f.key, err)
			}
		}
		if got, want := check("k"), (Result{Count: 2}); got != want {
			t.Errorf("k after the no-op forgets = %+v, want %+v", got, want)
		}
		if got, want := check("other"), (Result{Count: 1}); got != want {
			t.Errorf("other after the no-op forgets = %+v, want %+v", got, want)
		}
		// The freed place admits one more attempt.
		if got, err := s.Admit(ctx, "k", l); err != nil || got.Count != 3 || got.ID == "" {
			t.Errorf("admit after the forget = %+v, %v; want admitted with Count 3", got, err)
		}
		for _, id := range []string{ids[0], ids[2]} {
			if err := s.Forget(ctx, "k", id); err != nil {
				t.Fatal(err)
			}
		}
		if got := check("k"); got != (Result{Count: 1}) {
			t.Errorf("after forgetting two more: %+v, want Count 1", got)
		}
	})
}

// TestConcurrentAdmitLetsExactlyMaxThrough is why logins use Admit: however
// many attempts arrive at once, Max get in, and the refused ones do not fill
// the key (which, with Hit, would push the admitted ones out of the Max+1
// events a key keeps, so that forgetting the refused ones would free places
// that admitted attempts still hold).
func TestConcurrentAdmitLetsExactlyMaxThrough(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		l := Limit{Max: 20, Window: time.Minute}
		var mu sync.Mutex
		var admitted []string
		refused := 0
		hitAll(t, 50, func() {
			res, err := s.Admit(ctx, "logins", l)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case res.Count <= l.Max && res.ID != "":
				admitted = append(admitted, res.ID)
			case res.Count > l.Max && res.ID == "":
				refused++
			default:
				t.Errorf("admit = %+v: want Count <= Max with an ID, or > Max without", res)
			}
		})
		if len(admitted) != l.Max || refused != 50-l.Max {
			t.Errorf("admitted %d and refused %d of 50, want %d and %d",
				len(admitted), refused, l.Max, 50-l.Max)
		}
		got, err := s.Check(ctx, "logins", l)
		if err != nil || got.Count != l.Max {
			t.Errorf("check = %+v, %v; want Count %d", got, err, l.Max)
		}
		// Every admitted attempt turns out fine: all places free again.
		hitAll(t, len(admitted), func() {
			mu.Lock()
			id := admitted[0]
			admitted = admitted[1:]
			mu.Unlock()
			if err := s.Forget(ctx, "logins", id); err != nil {
				t.Error(err)
			}
		})
		if got, err := s.Check(ctx, "logins", l); err != nil || got != (Result{}) {
			t.Errorf("check after forgetting every admitted event = %+v, %v; want zero", got, err)
		}
	})
}
