package testkit

import "testing"

// Backend is one implementation that a shared behaviour runs against (an
// in-memory store, a Redis one), with a way to make a fresh T of it for a
// test.
type Backend[T any] struct {
	Name string
	New  func(t *testing.T) T
}

// ForEach runs fn as a parallel subtest per backend, named after it, with a
// fresh T made by the subtest.
func ForEach[T any](t *testing.T, backends []Backend[T], fn func(t *testing.T, v T)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.New(t))
		})
	}
}
