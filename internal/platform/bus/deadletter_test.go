package bus_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/testkit"
)

// A message whose dead letter cannot be stored (here: there is no DEADLETTER
// stream yet) is kept, far past the deliveries the server used to allow,
// and said so loudly each time; once the dead letter can be stored it is.
// The test owns its embedded server, since it needs DEADLETTER missing.
func TestDeadLetterThatCannotBeStoredIsKept(t *testing.T) {
	t.Parallel()
	var out testkit.SyncBuffer
	reg := prometheus.NewRegistry()
	b := bustest.EmbeddedBus(t, bus.Options{Logger: slog.New(slog.NewTextHandler(&out, nil)),
		Registerer: reg})
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	const durable, maxDeliver = "stubborn", 2
	var calls atomic.Int32
	consume(t, b, bus.ConsumerConfig{
		Stream: s.Name, Durable: durable, MaxDeliver: maxDeliver,
		Backoff: []time.Duration{10 * time.Millisecond},
		Handler: func(context.Context, event.Envelope) error {
			calls.Add(1)
			return errors.New("cannot apply")
		},
	})
	env := newEvent(t, s.Subject("item", "changed"), nil)
	if err := b.PublishEvent(ctxT(t), env); err != nil {
		t.Fatal(err)
	}
	// The server used to stop at MaxDeliver plus 3 spare deliveries, and
	// then moved on as if the message were handled.
	const deliveries = maxDeliver + 3 + 2
	bustest.Eventually(t, 10*time.Second, func() bool {
		return consumerInfo(t, b, s.Name, durable).Delivered.Consumer >= deliveries
	}, "the message was not delivered %d times", deliveries)
	const failures = deliveries - maxDeliver
	if got := testkit.CounterValue(t, reg, "emporium_bus_consumed_total",
		map[string]string{"consumer": durable, "result": "deadletter_failed"}); got < failures {
		t.Errorf("dead-letter failures counted = %v, want at least %d", got, failures)
	}
	if got := calls.Load(); got != maxDeliver {
		t.Errorf("handler calls = %d, want %d: deliveries past MaxDeliver go straight to "+
			"the dead letter", got, maxDeliver)
	}
	if got := strings.Count(out.String(), "level=ERROR msg=\"bus consumer: dead-letter "+
		"publish failed"); got < failures {
		t.Errorf("%d dead-letter failures logged at error level, want at least %d", got,
			failures)
	}

	bustest.DeadLetter(t, b, durable)
	dlSubject := bus.DeadLetterPrefix + durable + "." + env.Type
	bustest.Eventually(t, 10*time.Second, func() bool {
		return bustest.Count(t, b, bus.DeadLetterStream, dlSubject) == 1
	}, "no dead letter once DEADLETTER exists")
	m := bustest.LastDeadLetter(t, b, dlSubject)
	if got := m.Header.Get(bus.HeaderDeadError); !strings.Contains(got, "cannot apply") {
		t.Errorf("error header = %q, want the handler's error", got)
	}
	if got, _ := strconv.Atoi(m.Header.Get(bus.HeaderDeadDeliveries)); got <= failures {
		t.Errorf("deliveries header = %d, want more than %d", got, failures)
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		return settled(t, b, s.Name, durable, 1)
	}, "the message was not terminated after its dead letter was stored")
}

// The server never gives up on a message by itself, also for a durable that
// an earlier version created with a finite MaxDeliver.
func TestConsumerServerMaxDeliverIsUnlimited(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		_, err := b.JetStream().CreateOrUpdateConsumer(ctxT(t), s.Name, jetstream.ConsumerConfig{
			Durable: "veteran", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 8,
		})
		if err != nil {
			t.Fatal(err)
		}
		consume(t, b, bus.ConsumerConfig{Stream: s.Name, Durable: "veteran",
			Handler: func(context.Context, event.Envelope) error { return nil }})
		if got := consumerInfo(t, b, s.Name, "veteran").Config.MaxDeliver; got != -1 {
			t.Errorf("server MaxDeliver = %d, want -1 (unlimited)", got)
		}
	})
}
