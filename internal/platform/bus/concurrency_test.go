package bus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
)

// overlap records how many handlers run at once, and the most that did.
type overlap struct {
	now, most atomic.Int32
}

func (o *overlap) enter() int32 {
	n := o.now.Add(1)
	for {
		m := o.most.Load()
		if n <= m || o.most.CompareAndSwap(m, n) {
			return n
		}
	}
}

func (o *overlap) leave() { o.now.Add(-1) }

// A consumer with Concurrency n has n handlers running at once: each
// handler here waits until all n are inside, which one at a time never are.
func TestConcurrentConsumerHandlesMessagesAtOnce(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		const n = 4
		var o overlap
		allIn, giveUp := make(chan struct{}), make(chan struct{})
		var closeAllIn sync.Once
		consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: "parallel", Concurrency: n, Prefetch: 1,
			Handler: func(ctx context.Context, _ event.Envelope) error {
				defer o.leave()
				if o.enter() == n {
					closeAllIn.Do(func() { close(allIn) })
				}
				select {
				case <-allIn:
					return nil
				case <-giveUp:
					return errors.New("the other handlers never came")
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
		t.Cleanup(func() { close(giveUp) }) // before the consumer's Stop
		for range n {
			if err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("a", "b"), nil)); err != nil {
				t.Fatal(err)
			}
		}
		bustest.Eventually(t, 15*time.Second, func() bool {
			return settled(t, b, s.Name, "parallel", n)
		}, "%d handlers were never running at once (most at once: %d)", n, o.most.Load())
		if got := o.most.Load(); got != n {
			t.Errorf("most handlers at once = %d, want %d", got, n)
		}
	})
}

// Stop returns only after every handler in progress has finished.
func TestConcurrentConsumerStopWaitsForEveryHandler(t *testing.T) {
	t.Parallel()
	b := bustest.EmbeddedBus(t)
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	const n = 3
	started, release := make(chan struct{}, n), make(chan struct{})
	var finished atomic.Int32
	c, err := b.Consume(ctxT(t), bus.ConsumerConfig{
		Stream: s.Name, Durable: "slowmany", Concurrency: n,
		Handler: func(context.Context, event.Envelope) error {
			started <- struct{}{}
			<-release
			finished.Add(1)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("a", "b"), nil)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatalf("%d handlers started at once, want %d", i, n)
		}
	}
	stopped := make(chan int32)
	go func() { c.Stop(); stopped <- finished.Load() }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while the handlers were running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if got := <-stopped; got != n {
		t.Errorf("handlers finished when Stop returned = %d, want %d", got, n)
	}
	if !settled(t, b, s.Name, "slowmany", n) {
		t.Error("the handled messages were not all acknowledged by the time Stop returned")
	}
}

// An Ordered consumer handles one message at a time in stream order,
// whatever Concurrency says.
func TestOrderedConsumerIgnoresConcurrency(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		const n = 6
		var o overlap
		var mu sync.Mutex
		var got []string
		consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: "serial", Ordered: true, Concurrency: 4,
			Handler: func(ctx context.Context, env event.Envelope) error {
				o.enter()
				defer o.leave()
				mu.Lock()
				got = append(got, env.ID)
				mu.Unlock()
				return work(ctx, 20*time.Millisecond)
			},
		})
		var want []string
		for range n {
			env := newEvent(t, s.Subject("a", "b"), nil)
			want = append(want, env.ID)
			if err := b.PublishEvent(ctxT(t), env); err != nil {
				t.Fatal(err)
			}
		}
		bustest.Eventually(t, 15*time.Second, func() bool {
			return settled(t, b, s.Name, "serial", n)
		}, "%d messages not all handled", n)
		if m := o.most.Load(); m != 1 {
			t.Errorf("most handlers at once = %d, want 1", m)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(got, want) {
			t.Errorf("handled %v, want stream order %v", got, want)
		}
	})
}

// Handlers running at once retry and dead-letter their own messages as one
// handler would: each failing message gets MaxDeliver calls and one dead
// letter, and the others are acknowledged.
func TestConcurrentConsumerDeadLettersEachFailure(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		durable := "dlmany" + bustest.Unique()
		bustest.DeadLetter(t, b, durable)
		const n, maxDeliver = 8, 3
		var mu sync.Mutex
		calls := map[string]int{}
		consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: durable, Concurrency: 4, MaxDeliver: maxDeliver,
			Backoff: []time.Duration{10 * time.Millisecond},
			Handler: func(_ context.Context, env event.Envelope) error {
				mu.Lock()
				calls[env.ID]++
				mu.Unlock()
				if strings.HasSuffix(env.Type, ".bad") {
					return errors.New("cannot apply")
				}
				return nil
			},
		})
		var bad []string
		for i := range n {
			name := "good"
			if i%2 == 0 {
				name = "bad"
			}
			env := newEvent(t, s.Subject("item", name), nil)
			if name == "bad" {
				bad = append(bad, env.ID)
			}
			if err := b.PublishEvent(ctxT(t), env); err != nil {
				t.Fatal(err)
			}
		}
		dlSubject := bus.DeadLetterPrefix + durable + "." + s.Subject("item", "bad")
		bustest.Eventually(t, 15*time.Second, func() bool {
			return bustest.Count(t, b, bus.DeadLetterStream, dlSubject) == len(bad) &&
				settled(t, b, s.Name, durable, n)
		}, "not every failing message was dead-lettered and every message settled")
		mu.Lock()
		defer mu.Unlock()
		for id, k := range calls {
			want := 1
			if slices.Contains(bad, id) {
				want = maxDeliver
			}
			if k != want {
				t.Errorf("message %s handled %d times, want %d", id, k, want)
			}
		}
		if len(calls) != n {
			t.Errorf("%d messages handled, want %d", len(calls), n)
		}
	})
}
