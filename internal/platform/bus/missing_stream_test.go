package bus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
)

// A consumer of a stream that does not exist yet (its publisher has never
// run) starts all the same, and handles the stream's events once the stream
// appears: a service does not fail its start for another's absence.
func TestConsumeBeforeTheStreamExists(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		prefix := "t" + bustest.Unique()
		name := strings.ToUpper(prefix)
		got := make(chan event.Envelope, 1)
		consume(t, b, bus.ConsumerConfig{
			Stream: name, Durable: "early", FilterSubjects: []string{prefix + ".item.*"},
			Handler: func(_ context.Context, env event.Envelope) error {
				got <- env
				return nil
			},
		})
		if err := b.EnsureStream(ctxT(t), bus.StreamConfig{Name: name,
			Subjects: []string{prefix + ".>"}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.JetStream().DeleteStream(context.Background(), name) })
		want := newEvent(t, prefix+".item.changed", nil)
		if err := b.PublishEvent(ctxT(t), want); err != nil {
			t.Fatal(err)
		}
		select {
		case env := <-got:
			if env.ID != want.ID {
				t.Errorf("got event %s, want %s", env.ID, want.ID)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the event was not handled within 15s of the stream's creation")
		}
	})
}
