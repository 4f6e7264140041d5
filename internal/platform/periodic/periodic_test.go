package periodic_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/periodic"
)

// The first call waits an interval with Every, not with NowAndEvery; both go
// on calling until the context ends, and then return nil.
func TestCallsUntilTheContextEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		loop func(time.Duration, func(context.Context) error) func(context.Context) error
	}{{"Every", periodic.Every}, {"NowAndEvery", periodic.NowAndEvery}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var calls atomic.Int32
			third := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- tc.loop(10*time.Millisecond, func(context.Context) error {
					if calls.Add(1) == 3 {
						close(third)
					}
					return nil
				})(ctx)
			}()
			<-third
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("loop returned %v after its context ended; want nil", err)
			}
			if n := calls.Load(); n < 3 {
				t.Fatalf("%d calls", n)
			}
		})
	}
	// Every waits before its first call: with an interval of an hour it makes
	// none before its context ends; NowAndEvery makes one at once.
	for _, tc := range []struct {
		name string
		loop func(time.Duration, func(context.Context) error) func(context.Context) error
		want int32
	}{{"Every", periodic.Every, 0}, {"NowAndEvery", periodic.NowAndEvery, 1}} {
		t.Run(tc.name+"/first", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var calls atomic.Int32
			called := make(chan struct{}, 1)
			done := make(chan error, 1)
			go func() {
				done <- tc.loop(time.Hour, func(context.Context) error {
					calls.Add(1)
					called <- struct{}{}
					return nil
				})(ctx)
			}()
			if tc.want > 0 {
				<-called
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if n := calls.Load(); n != tc.want {
				t.Fatalf("%d calls; want %d", n, tc.want)
			}
		})
	}
}

// A failing call ends the loop with its error while the context lives; a
// call that fails because the context ended does not count as a failure.
func TestFailure(t *testing.T) {
	boom := errors.New("database unreachable")
	err := periodic.NowAndEvery(time.Hour, func(context.Context) error { return boom })(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = periodic.NowAndEvery(time.Hour, func(context.Context) error { cancel(); return context.Canceled })(ctx)
	if err != nil {
		t.Fatalf("err = %v after the context ended; want nil", err)
	}
}
