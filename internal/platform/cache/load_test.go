package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/testkit"
)

func TestGetOrLoadLoadsOnceForConcurrentCallers(t *testing.T) {
	t.Parallel()
	const callers = 100
	errMissing := errs.New(errs.NotFound, "not_found", "no such product")
	tests := []struct {
		name      string
		value     []byte
		err       error
		wantLoads int // after a second round of callers
	}{
		{"value", []byte(`{"id":"1"}`), nil, 1},
		{"error", nil, errMissing, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, e env) {
				ctx := context.Background()
				var loads atomic.Int64
				load := func(context.Context) ([]byte, error) {
					// Hold the first load until every other caller has joined
					// it: a caller counts its miss before it joins, so waiting
					// for the misses alone let one join after an error was
					// handed out, and load again.
					if loads.Add(1) == 1 {
						err := testkit.Poll(10*time.Second, func() bool {
							return waiters(e.store, "product:1") >= callers-1
						})
						if err != nil {
							return nil, err
						}
					}
					return tt.value, tt.err
				}
				results := make([][]byte, callers)
				gotErrs := make([]error, callers)
				var wg sync.WaitGroup
				for i := range callers {
					wg.Go(func() {
						results[i], gotErrs[i] = GetOrLoad(ctx, e.store, "product:1", time.Minute,
							load)
					})
				}
				wg.Wait()
				if got := loads.Load(); got != 1 {
					t.Errorf("%d concurrent callers on a cold key loaded %d times, want 1",
						callers, got)
				}
				for i := range callers {
					if string(results[i]) != string(tt.value) || gotErrs[i] != tt.err {
						t.Fatalf("caller %d got %q, %v; want %q, %v", i, results[i], gotErrs[i],
							tt.value, tt.err)
					}
				}
				// A value is served from the cache from now on; an error was not
				// stored, so the next caller loads again.
				got, err := GetOrLoad(ctx, e.store, "product:1", time.Minute, load)
				if string(got) != string(tt.value) || err != tt.err {
					t.Errorf("next call got %q, %v; want %q, %v", got, err, tt.value, tt.err)
				}
				if got := loads.Load(); got != int64(tt.wantLoads) {
					t.Errorf("after the next call: %d loads, want %d", got, tt.wantLoads)
				}
			})
		})
	}
}

func TestGetOrLoadStoresWithTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, e env) {
		loads := 0
		load := func(context.Context) ([]byte, error) {
			loads++
			return []byte("v"), nil
		}
		for range 3 {
			if got, err := GetOrLoad(ctx, e.store, "k", time.Minute, load); string(got) != "v" ||
				err != nil {
				t.Fatalf("GetOrLoad = %q, %v; want %q", got, err, "v")
			}
		}
		if loads != 1 {
			t.Errorf("3 calls loaded %d times, want 1", loads)
		}
		// A ttl <= 0 loads every time.
		for range 2 {
			if _, err := GetOrLoad(ctx, e.store, "uncached", 0, load); err != nil {
				t.Fatal(err)
			}
		}
		if loads != 3 {
			t.Errorf("2 calls with ttl 0: %d loads in all, want 3", loads)
		}
	})
}

func TestGetOrLoadWaiterCanGiveUp(t *testing.T) {
	t.Parallel()
	s := NewMemory(MemoryOptions{})
	started, release := make(chan struct{}), make(chan struct{})
	leader := make(chan error, 1)
	go func() {
		_, err := GetOrLoad(context.Background(), s, "k", time.Minute,
			func(context.Context) ([]byte, error) {
				close(started)
				<-release
				return []byte("v"), nil
			})
		leader <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := GetOrLoad(ctx, s, "k", time.Minute, func(context.Context) ([]byte, error) {
		t.Error("a second load ran while the first was in progress")
		return nil, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("waiter with a cancelled context got %v, want %v", err, context.Canceled)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Errorf("the loading caller got %v after a waiter gave up", err)
	}
}

func TestGetOrLoadWaitersSurviveTheLoaderGivingUp(t *testing.T) {
	t.Parallel()
	s := NewMemory(MemoryOptions{})
	var loads atomic.Int64
	load := func(ctx context.Context) ([]byte, error) {
		if loads.Add(1) == 1 {
			// The first caller's client goes away mid-load.
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return []byte("v"), nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() {
		_, err := GetOrLoad(ctx, s, "k", time.Minute, load)
		leader <- err
	}()
	testkit.Eventually(t, 10*time.Second, func() bool { return loads.Load() == 1 },
		"the first load did not start")
	waiter := make(chan error, 1)
	go func() {
		got, err := GetOrLoad(context.Background(), s, "k", time.Minute, load)
		if err == nil && string(got) != "v" {
			err = errors.New("got " + string(got))
		}
		waiter <- err
	}()
	testkit.Eventually(t, 10*time.Second, func() bool { return waiters(s, "k") == 1 },
		"the second caller did not wait on the first load")
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that gave up got %v, want %v", err, context.Canceled)
	}
	if err := <-waiter; err != nil {
		t.Errorf("the waiter got %v, want the value it loaded itself", err)
	}
	if got := loads.Load(); got != 2 {
		t.Errorf("%d loads, want 2", got)
	}
}

func TestGetOrLoadLoaderPanics(t *testing.T) {
	t.Parallel()
	s := NewMemory(MemoryOptions{})
	started, release := make(chan struct{}), make(chan struct{})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		_, _ = GetOrLoad(context.Background(), s, "k", time.Minute,
			func(context.Context) ([]byte, error) {
				close(started)
				<-release
				panic("boom")
			})
	}()
	<-started
	waiter := make(chan error, 1)
	go func() {
		_, err := GetOrLoad(context.Background(), s, "k", time.Minute,
			func(context.Context) ([]byte, error) { return []byte("v"), nil })
		waiter <- err
	}()
	testkit.Eventually(t, 10*time.Second, func() bool { return waiters(s, "k") == 1 },
		"the second caller did not wait on the first load")
	close(release)
	if got := <-recovered; got != "boom" {
		t.Errorf("the loading caller recovered %v, want the loader's panic", got)
	}
	if err := <-waiter; !errors.Is(err, ErrLoaderPanicked) {
		t.Errorf("the waiter got %v, want %v", err, ErrLoaderPanicked)
	}
	got, err := GetOrLoad(context.Background(), s, "k", time.Minute,
		func(context.Context) ([]byte, error) { return []byte("v"), nil })
	if string(got) != "v" || err != nil {
		t.Errorf("after the panic GetOrLoad = %q, %v; want %q", got, err, "v")
	}
}

func TestGetOrLoadKeepsStoresApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := NewMemory(MemoryOptions{}), NewMemory(MemoryOptions{})
	release := make(chan struct{})
	gotA := make(chan []byte, 1)
	go func() {
		v, _ := GetOrLoad(ctx, a, "k", time.Minute, func(context.Context) ([]byte, error) {
			<-release
			return []byte("a"), nil
		})
		gotA <- v
	}()
	// The same key in another store does not wait on a's load.
	v, err := GetOrLoad(ctx, b, "k", time.Minute, func(context.Context) ([]byte, error) {
		return []byte("b"), nil
	})
	close(release)
	if string(v) != "b" || err != nil {
		t.Errorf("GetOrLoad on b = %q, %v; want %q", v, err, "b")
	}
	if v := <-gotA; string(v) != "a" {
		t.Errorf("GetOrLoad on a = %q, want %q", v, "a")
	}
}
