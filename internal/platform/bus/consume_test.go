package bus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
)

// work stands for a handler that takes d, or until ctx ends.
func work(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// consumerInfo returns the server's view of a durable consumer.
func consumerInfo(t *testing.T, b *bus.Bus, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := b.JetStream().Consumer(ctxT(t), stream, durable)
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	info, err := c.Info(ctxT(t))
	if err != nil {
		t.Fatalf("consumer info %s: %v", durable, err)
	}
	return info
}

// settled reports whether the consumer has acknowledged the first n messages
// of its stream and has none waiting for an answer.
func settled(t *testing.T, b *bus.Bus, stream, durable string, n uint64) bool {
	t.Helper()
	info := consumerInfo(t, b, stream, durable)
	return info.AckFloor.Stream >= n && info.NumAckPending == 0
}

// Messages pulled ahead wait in the buffer while the one before is handled,
// with the server's AckWait clock running from their delivery. The clock is
// restarted when handling starts, so a message whose turn comes late but is
// handled within AckWait is not redelivered.
func TestPrefetchedMessageIsNotRedeliveredWhileHandled(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		// Three messages delivered at once, 800ms each: the third is handled
		// from 1.6s to 2.4s, across the 2s AckWait that started at delivery.
		const n, ackWait, took = 3, 2 * time.Second, 800 * time.Millisecond
		var calls atomic.Int32
		c := consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: "patient", AckWait: ackWait, Prefetch: n,
			Handler: func(ctx context.Context, _ event.Envelope) error {
				calls.Add(1)
				return work(ctx, took)
			},
		})
		for range n {
			if err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("a", "b"), nil)); err != nil {
				t.Fatal(err)
			}
		}
		bustest.Eventually(t, 15*time.Second, func() bool {
			return calls.Load() >= n && settled(t, b, s.Name, "patient", n)
		}, "%d messages not all handled and acknowledged", n)
		c.Stop()
		info := consumerInfo(t, b, s.Name, "patient")
		if got := info.Delivered.Consumer; got != n {
			t.Errorf("deliveries = %d, want %d (none redelivered)", got, n)
		}
		if got := calls.Load(); got != n {
			t.Errorf("handler calls = %d, want %d", got, n)
		}
	})
}

// A failed message is retried after its backoff while the messages behind it
// go ahead, unless the consumer is Ordered.
func TestOrderedConsumerHoldsLaterMessagesBehindARetry(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		tests := []struct {
			name    string
			ordered bool
			want    []string
		}{
			{"unordered", false, []string{"second", "first"}},
			{"ordered", true, []string{"first", "second"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := bustest.NewStream(t, b, bus.StreamConfig{})
				first := newEvent(t, s.Subject("stock", "first"), nil)
				second := newEvent(t, s.Subject("stock", "second"), nil)
				var mu sync.Mutex
				var applied []string
				failed := false
				consume(t, b, bus.ConsumerConfig{
					Stream: s.Name, Durable: "seq", Ordered: tt.ordered,
					Backoff: []time.Duration{time.Second},
					Handler: func(_ context.Context, env event.Envelope) error {
						mu.Lock()
						defer mu.Unlock()
						if env.ID == first.ID && !failed {
							failed = true
							return errors.New("not yet")
						}
						applied = append(applied, strings.TrimPrefix(env.Type,
							s.Prefix+".stock."))
						return nil
					},
				})
				if got := consumerInfo(t, b, s.Name, "seq").Config.MaxAckPending; tt.ordered &&
					got != 1 {
					t.Errorf("MaxAckPending = %d, want 1", got)
				}
				for _, env := range []event.Envelope{first, second} {
					if err := b.PublishEvent(ctxT(t), env); err != nil {
						t.Fatal(err)
					}
				}
				bustest.Eventually(t, 10*time.Second, func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(applied) == 2
				}, "two events not applied")
				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(applied, tt.want) {
					t.Errorf("applied %v, want %v", applied, tt.want)
				}
			})
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestConsumerWarnsWhenPrefetchOutlastsAckWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		prefetch int
		ordered  bool
		wantWarn bool
	}{
		{"10 × 100ms past half of 1s", 10, false, true},
		{"2 × 100ms within half of 1s", 2, false, false},
		{"ordered pulls nothing ahead", 10, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out syncBuffer
			b := bustest.EmbeddedBus(t, bus.Options{Logger: slog.New(slog.NewTextHandler(&out,
				nil))})
			s := bustest.NewStream(t, b, bus.StreamConfig{})
			consume(t, b, bus.ConsumerConfig{
				Stream: s.Name, Durable: "paced", AckWait: time.Second, Prefetch: tt.prefetch,
				Ordered: tt.ordered,
				Handler: func(ctx context.Context, _ event.Envelope) error {
					return work(ctx, 100*time.Millisecond)
				},
			})
			if err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("a", "b"), nil)); err != nil {
				t.Fatal(err)
			}
			// The warning, if any, is logged before the ack.
			bustest.Eventually(t, 10*time.Second, func() bool {
				return settled(t, b, s.Name, "paced", 1)
			}, "message not acknowledged")
			if got := strings.Contains(out.String(), "too slow for the prefetch"); got !=
				tt.wantWarn {
				t.Errorf("warned = %v, want %v; log:\n%s", got, tt.wantWarn, out.String())
			}
		})
	}
}

// A consumer that stops gives the messages it pulled ahead back to the
// server, so that another replica handles them at once instead of after
// AckWait (a minute here, well past the test's deadline); the messages its
// handlers had started on are finished, not given back.
func TestStoppedConsumerGivesBackPrefetchedMessages(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		for _, concurrency := range []int{1, 2} {
			t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
				t.Parallel()
				givesBack(t, b, concurrency)
			})
		}
	})
}

func givesBack(t *testing.T, b *bus.Bus, concurrency int) {
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	const n = 5
	cfg := bus.ConsumerConfig{Stream: s.Name, Durable: "handover", Prefetch: 10,
		AckWait: time.Minute}
	started, release := make(chan string, concurrency), make(chan struct{})
	first := cfg
	first.Concurrency = concurrency
	first.Handler = func(_ context.Context, env event.Envelope) error {
		started <- env.ID
		<-release
		return nil
	}
	c := consume(t, b, first)
	for range n {
		if err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("a", "b"), nil)); err != nil {
			t.Fatal(err)
		}
	}
	handled := map[string]bool{}
	for i := range concurrency {
		select {
		case id := <-started:
			handled[id] = true
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatalf("%d handlers started at once, want %d", i, concurrency)
		}
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		return consumerInfo(t, b, s.Name, cfg.Durable).NumAckPending == n
	}, "the %d messages were not all pulled ahead", n)

	// The other replica runs already, and has nothing to do.
	var mu sync.Mutex
	got := map[string]int{}
	second := cfg
	second.Handler = func(_ context.Context, env event.Envelope) error {
		mu.Lock()
		defer mu.Unlock()
		got[env.ID]++
		return nil
	}
	consume(t, b, second)
	c.Halt()
	close(release)
	c.Stop()
	bustest.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n-concurrency
	}, "the other replica did not get the %d prefetched messages at once", n-concurrency)
	mu.Lock()
	defer mu.Unlock()
	for id, k := range got {
		if handled[id] {
			t.Errorf("message %s, handled before the stop, was handled again", id)
		}
		if k != 1 {
			t.Errorf("message %s handled %d times, want once", id, k)
		}
	}
}

// A service that consumes another's stream may start before that service
// has created it: it starts anyway, and consumes once the stream exists.
func TestConsumerWaitsForAMissingStream(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		prefix := "t" + bustest.Unique()
		name := strings.ToUpper(prefix)
		got := make(chan event.Envelope, 1)
		consume(t, b, bus.ConsumerConfig{Stream: name, Durable: "early",
			Handler: func(_ context.Context, env event.Envelope) error {
				got <- env
				return nil
			}})
		if err := b.EnsureStream(ctxT(t), bus.StreamConfig{Name: name,
			Subjects: []string{prefix + ".>"}}); err != nil {
			t.Fatalf("ensure stream: %v", err)
		}
		t.Cleanup(func() { _ = b.JetStream().DeleteStream(context.Background(), name) })
		want := newEvent(t, prefix+".order.placed", nil)
		if err := b.PublishEvent(ctxT(t), want); err != nil {
			t.Fatal(err)
		}
		select {
		case env := <-got:
			if env.ID != want.ID {
				t.Errorf("consumed %s, want %s", env.ID, want.ID)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the event on the stream created after the consumer was not consumed")
		}
	})
}

// A consumer still waiting for its stream stops at once.
func TestConsumerWaitingForAStreamStops(t *testing.T) {
	t.Parallel()
	b := bustest.EmbeddedBus(t)
	c, err := b.Consume(ctxT(t), bus.ConsumerConfig{Stream: "NOSUCH" + strings.ToUpper(bustest.Unique()),
		Durable: "idle", Handler: func(context.Context, event.Envelope) error { return nil }})
	if err != nil {
		t.Fatalf("consume a missing stream: %v", err)
	}
	stopped := make(chan struct{})
	go func() { c.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return while the consumer waited for its stream")
	}
}
