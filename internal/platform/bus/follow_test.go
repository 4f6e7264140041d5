package bus_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
)

// Follow reports that it has caught up only once the handler has been given
// every event that was in the stream when it started.
func TestFollowReportsCatchingUp(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		tests := []struct {
			name        string
			before      int           // events published before Follow starts
			since       time.Duration // FollowConfig.Since
			noStream    bool
			wantHandled int32 // events handled when CaughtUp is called
		}{
			{name: "events to read", before: 20, since: time.Hour, wantHandled: 20},
			{name: "nothing to read", before: 0, since: time.Hour, wantHandled: 0},
			{name: "only new events", before: 3, since: 0, wantHandled: 0},
			{name: "no stream", noStream: true, since: time.Hour, wantHandled: 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := bustest.Stream{Name: "NONE" + bustest.Unique(), Prefix: "none"}
				if !tt.noStream {
					s = bustest.NewStream(t, b, bus.StreamConfig{})
				}
				for range tt.before {
					err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("user", "revoked"), nil))
					if err != nil {
						t.Fatal(err)
					}
				}
				var handled atomic.Int32
				caught := make(chan int32, 2)
				ctx, cancel := context.WithCancel(ctxT(t))
				done := make(chan error, 1)
				go func() {
					done <- b.Follow(ctx, bus.FollowConfig{
						Stream: s.Name, Subject: s.Prefix + ".>", Since: tt.since,
						Handler: func(context.Context, event.Envelope) {
							handled.Add(1)
						},
						CaughtUp: func() { caught <- handled.Load() },
					})
				}()
				select {
				case got := <-caught:
					if got != tt.wantHandled {
						t.Errorf("caught up after %d events, want %d", got, tt.wantHandled)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Follow did not report catching up")
				}
				if !tt.noStream {
					// Later events do not report it again.
					err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("user", "revoked"), nil))
					if err != nil {
						t.Fatal(err)
					}
					bustest.Eventually(t, 10*time.Second, func() bool {
						return handled.Load() == tt.wantHandled+1
					}, "the later event was not handled")
				}
				cancel()
				err := <-done
				if (err != nil) != tt.noStream {
					t.Errorf("Follow = %v, want an error only without a stream", err)
				}
				if len(caught) != 0 {
					t.Errorf("CaughtUp called more than once")
				}
			})
		}
	})
}
