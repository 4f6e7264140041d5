package bus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/errs"
)

// A publish that no retry can fix is marked permanent, so that the outbox
// relay parks the event instead of retrying it forever; one the bus accepts,
// or one that fails only while the bus is down, is not.
func TestPublishMarksPermanentErrors(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		small := "t" + bustest.Unique()
		if _, err := b.JetStream().CreateStream(ctxT(t), jetstream.StreamConfig{
			Name: strings.ToUpper(small), Subjects: []string{small + ".>"}, MaxMsgSize: 64,
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.JetStream().DeleteStream(context.Background(), strings.ToUpper(small)) })

		tests := []struct {
			name          string
			subject       string
			size          int
			wantPermanent bool
		}{
			{"accepted", s.Subject("order", "placed"), 10, false},
			{"no stream takes the subject", "t" + bustest.Unique() + ".order.placed", 10, true},
			{"over max_payload", s.Subject("order", "placed"),
				int(b.Conn().MaxPayload()) + 1, true},
			{"over the stream's max_msg_size", small + ".order.placed", 100, true},
		}
		for _, tt := range tests {
			err := b.Publish(ctxT(t), tt.subject, bustest.Unique(), make([]byte, tt.size), nil)
			if got := bus.IsPermanent(err); got != tt.wantPermanent {
				t.Errorf("%s: IsPermanent(%v) = %v, want %v", tt.name, err, got, tt.wantPermanent)
			}
			if tt.wantPermanent && errs.KindOf(err) == errs.Unavailable {
				t.Errorf("%s: err %v is of kind unavailable", tt.name, err)
			}
			if !tt.wantPermanent && err != nil {
				t.Errorf("%s: err = %v, want nil", tt.name, err)
			}
		}
	})
}

// A NATS server without JetStream finds no responders for a publish, as a
// subject without a stream does; but here nothing says the stream is missing,
// so the error is unavailable and the publish is retried.
func TestPublishWithoutJetStreamIsUnavailable(t *testing.T) {
	t.Parallel()
	srv, err := server.NewServer(&server.Options{DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(nc, bus.Options{Logger: bustest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	err = b.Publish(ctxT(t), "t"+bustest.Unique()+".order.placed", "id-1", []byte("{}"), nil)
	if err == nil || bus.IsPermanent(err) || errs.KindOf(err) != errs.Unavailable {
		t.Errorf("publish without JetStream: err = %v (permanent %v), want unavailable, "+
			"not permanent", err, bus.IsPermanent(err))
	}
	if !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("err = %v, want it to wrap %v", err, jetstream.ErrNoStreamResponse)
	}
}
