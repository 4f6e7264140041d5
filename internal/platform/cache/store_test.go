package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"emporium/internal/platform/testkit"
)

// Tests of the behaviour every Store shares, run against each backend.

func TestSetGetDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, e env) {
		s := e.store
		s.Set(ctx, "product:1", []byte(`{"id":"1"}`), time.Minute)
		s.Set(ctx, "product:2", []byte(`{"id":"2"}`), time.Minute)
		s.Set(ctx, "product:2", []byte(`{"id":"2","v":2}`), time.Minute)
		s.Set(ctx, "empty", []byte{}, time.Minute)
		s.Set(ctx, "no ttl", []byte("x"), 0)
		s.Set(ctx, "negative ttl", []byte("x"), -time.Second)

		tests := []struct {
			key   string
			want  string
			found bool
		}{
			{"product:1", `{"id":"1"}`, true},
			{"product:2", `{"id":"2","v":2}`, true},
			{"empty", "", true},
			{"no ttl", "", false},
			{"negative ttl", "", false},
			{"product:3", "", false},
		}
		for _, tt := range tests {
			got, found := s.Get(ctx, tt.key)
			if string(got) != tt.want || found != tt.found {
				t.Errorf("Get(%q) = %q, %v; want %q, %v", tt.key, got, found, tt.want, tt.found)
			}
		}

		s.Delete(ctx, "product:1", "product:3", "empty")
		s.Delete(ctx)
		for key, want := range map[string]bool{"product:1": false, "empty": false,
			"product:2": true} {
			if _, found := s.Get(ctx, key); found != want {
				t.Errorf("after Delete, Get(%q) found = %v, want %v", key, found, want)
			}
		}
		s.Delete(ctx, "product:2")
		if got, found := s.Get(ctx, "product:2"); found {
			t.Errorf("after deleting the only key, Get = %q, want a miss", got)
		}

		// Misses: product:3, two ttl-less sets, three deleted keys; hits:
		// three from the table, product:2 after the first Delete.
		for result, want := range map[string]float64{"hit": 4, "miss": 6, "error": 0} {
			if got := requests(t, e.reg, result); got != want {
				t.Errorf("%s{result=%s} = %v, want %v", requestsMetric, result, got, want)
			}
		}
	})
}

func TestValuesAreCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, e env) {
		value := []byte("original")
		e.store.Set(ctx, "k", value, time.Minute)
		copy(value, "changed!")
		got, _ := e.store.Get(ctx, "k")
		if string(got) != "original" {
			t.Fatalf("after changing the slice given to Set, Get = %q, want %q", got,
				"original")
		}
		copy(got, "changed!")
		if again, _ := e.store.Get(ctx, "k"); string(again) != "original" {
			t.Errorf("after changing the slice Get returned, Get = %q, want %q", again,
				"original")
		}
	})
}

func TestEntriesExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, e env) {
		s := e.store
		if e.clock != nil {
			s.Set(ctx, "short", []byte("s"), time.Second)
			s.Set(ctx, "long", []byte("l"), time.Minute)
			steps := []struct {
				advance     time.Duration
				short, long bool
			}{
				{0, true, true},
				{time.Second - time.Nanosecond, true, true},
				{time.Nanosecond, false, true},
				{time.Minute - time.Second - time.Nanosecond, false, true},
				{time.Nanosecond, false, false},
			}
			for i, step := range steps {
				e.clock.Advance(step.advance)
				_, short := s.Get(ctx, "short")
				_, long := s.Get(ctx, "long")
				if short != step.short || long != step.long {
					t.Errorf("step %d: found short, long = %v, %v; want %v, %v",
						i, short, long, step.short, step.long)
				}
			}
			return
		}
		// Redis expires by its own clock: poll.
		s.Set(ctx, "short", []byte("s"), time.Second)
		s.Set(ctx, "long", []byte("l"), time.Minute)
		if _, found := s.Get(ctx, "short"); !found {
			t.Fatal("a value set for a second is missing at once")
		}
		testkit.Eventually(t, 10*time.Second, func() bool {
			_, found := s.Get(ctx, "short")
			return !found
		}, "a value set for a second is still there")
		if _, found := s.Get(ctx, "long"); !found {
			t.Error("a value set for a minute expired with the one set for a second")
		}
	})
}

func TestGenerations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, e env) {
		s := e.store
		steps := []struct {
			bump                 string // namespace to Bump first, if any
			products, categories uint64
		}{
			{"", 0, 0},
			{"products", 1, 0},
			{"products", 2, 0},
			{"categories", 2, 1},
		}
		for i, step := range steps {
			if step.bump != "" {
				s.Bump(ctx, step.bump)
			}
			p, c := s.Generation(ctx, "products"), s.Generation(ctx, "categories")
			if p != step.products || c != step.categories {
				t.Errorf("step %d: generations of products, categories = %d, %d; want %d, %d",
					i, p, c, step.products, step.categories)
			}
		}
	})
}

func TestBumpInvalidatesPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, e env) {
		s := e.store
		pageKey := func(page int) string {
			return fmt.Sprintf("products:%d:page=%d", s.Generation(ctx, "products"), page)
		}
		for page := range 3 {
			s.Set(ctx, pageKey(page), []byte("old"), time.Minute)
		}
		s.Set(ctx, "product:1", []byte("kept"), time.Minute)
		s.Bump(ctx, "products")
		for page := range 3 {
			if got, found := s.Get(ctx, pageKey(page)); found {
				t.Errorf("page %d after Bump = %q, want a miss", page, got)
			}
		}
		if _, found := s.Get(ctx, "product:1"); !found {
			t.Error("a Bump removed a key outside its namespace")
		}
	})
}
