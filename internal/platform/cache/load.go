package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Loader produces the value for a key that is not in the cache, typically by
// reading the database and encoding the result.
type Loader func(ctx context.Context) ([]byte, error)

// ErrLoaderPanicked is what the callers waiting on a load get when the loader
// panicked; the panic itself goes on in the caller that ran it.
var ErrLoaderPanicked = errors.New("cache: loader panicked")

// GetOrLoad returns the value under key in s, or else loads it with load,
// stores it for ttl and returns it. The caller owns the returned slice.
//
// Concurrent calls in this process for the same s and key share one load:
// the first runs load, the others wait for its result, so a hot key that
// expires costs one database read per replica, not one per request. A
// waiter whose ctx ends stops waiting; if it is the loading caller's ctx
// that ends (its client went away) and load fails for that, the waiters
// still waiting load again themselves rather than fail with it.
//
// A load error is returned as it is, to the loading caller and to everyone
// waiting on it, and nothing is stored: the next call loads again. The value
// is stored even if ctx ends after the load. s must be comparable (the
// package's stores are pointers).
func GetOrLoad(ctx context.Context, s Store, key string, ttl time.Duration,
	load Loader) ([]byte, error) {
	if v, ok := s.Get(ctx, key); ok {
		return v, nil
	}
	k := flightKey{s, key}
	for {
		f, leader := flights.join(k)
		if leader {
			return flights.lead(ctx, k, f, ttl, load)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("cache: wait for load: %w", ctx.Err())
		}
		switch {
		case f.err == nil:
			return bytes.Clone(f.val), nil
		case f.abandoned && ctx.Err() == nil:
			continue
		default:
			return nil, f.err
		}
	}
}

// flights holds the loads in progress in this process.
var flights = group{m: make(map[flightKey]*flight)}

type flightKey struct {
	store Store
	key   string
}

// flight is one load; its fields are set before done is closed.
type flight struct {
	done    chan struct{}
	waiters int // callers that joined after the first, for tests
	val     []byte
	err     error
	// abandoned reports that the load failed after the loading caller's
	// context ended: the error is the caller's, not the data's.
	abandoned bool
}

type group struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

// join returns the flight for k, starting one if there is none; leader
// reports that the caller started it and must run it.
func (g *group) join(k flightKey) (f *flight, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[k]; ok {
		f.waiters++
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	g.m[k] = f
	return f, true
}

// lead runs flight f for k and hands its result to the waiters.
func (g *group) lead(ctx context.Context, k flightKey, f *flight, ttl time.Duration,
	load Loader) ([]byte, error) {
	finished := false
	defer func() {
		if !finished {
			f.err = ErrLoaderPanicked
			g.finish(k, f)
		}
	}()
	v, err := loadOnce(ctx, k, ttl, load)
	f.val, f.err = v, err
	f.abandoned = err != nil && ctx.Err() != nil
	finished = true
	g.finish(k, f)
	if err != nil {
		return nil, err
	}
	// Waiters copy f.val; the caller may change its own slice.
	return bytes.Clone(v), nil
}

func (g *group) finish(k flightKey, f *flight) {
	g.mu.Lock()
	delete(g.m, k)
	g.mu.Unlock()
	close(f.done)
}

// loadOnce looks in the store once more, since a flight for the key may have
// stored it between the caller's miss and its joining a flight, and loads the
// value if it is still missing.
func loadOnce(ctx context.Context, k flightKey, ttl time.Duration, load Loader) ([]byte, error) {
	if v, ok := lookup(ctx, k.store, k.key); ok {
		return v, nil
	}
	v, err := load(ctx)
	if err != nil {
		return nil, err
	}
	// The load is paid for; store it even if the caller has gone.
	k.store.Set(context.WithoutCancel(ctx), k.key, v, ttl)
	return v, nil
}

// lookup is Get without counting a second miss for the same request, for
// the package's stores.
func lookup(ctx context.Context, s Store, key string) ([]byte, bool) {
	switch s := s.(type) {
	case *Memory:
		return s.lookup(key)
	case *Redis:
		return s.lookup(ctx, key)
	}
	return s.Get(ctx, key)
}
