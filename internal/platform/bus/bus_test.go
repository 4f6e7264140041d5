package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/errs"
)

func TestMain(m *testing.M) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	os.Exit(m.Run())
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newEvent(t *testing.T, typ string, data any) event.Envelope {
	t.Helper()
	env, err := event.New(typ, "test", data)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func consume(t *testing.T, b *bus.Bus, cfg bus.ConsumerConfig) *bus.Consumer {
	t.Helper()
	c, err := b.Consume(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

type delivery struct {
	env     event.Envelope
	traceID trace.TraceID
}

func TestPublishEventConsumeRoundTrip(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		got := make(chan delivery, 1)
		consume(t, b, bus.ConsumerConfig{
			Stream: s.Name, Durable: "roundtrip",
			Handler: func(ctx context.Context, env event.Envelope) error {
				got <- delivery{env, trace.SpanContextFromContext(ctx).TraceID()}
				return nil
			},
		})
		ctx, span := otel.Tracer("test").Start(ctxT(t), "place order")
		defer span.End()
		want := newEvent(t, s.Subject("order", "placed"), map[string]any{"order_id": "o1"})
		if err := b.PublishEvent(ctx, want); err != nil {
			t.Fatalf("publish: %v", err)
		}
		select {
		case d := <-got:
			if !d.env.Time.Equal(want.Time) {
				t.Errorf("time = %v, want %v", d.env.Time, want.Time)
			}
			d.env.Time = want.Time
			if !reflect.DeepEqual(d.env, want) {
				t.Errorf("envelope = %+v, want %+v", d.env, want)
			}
			if wantID := span.SpanContext().TraceID(); d.traceID != wantID {
				t.Errorf("trace id = %s, want %s", d.traceID, wantID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery within 10s")
		}
	})
}

func TestPublishDeduplicatesByMsgID(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		s := bustest.NewStream(t, b, bus.StreamConfig{})
		env := newEvent(t, s.Subject("user", "registered"), nil)
		for range 3 {
			if err := b.PublishEvent(ctxT(t), env); err != nil {
				t.Fatalf("publish: %v", err)
			}
		}
		if got := bustest.Count(t, b, s.Name, s.Prefix+".>"); got != 1 {
			t.Errorf("stream holds %d copies, want 1", got)
		}
	})
}

func TestConsumerDeadLettersAtOnce(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		tests := []struct {
			name      string
			data      func(subject string) []byte
			handler   func(ctx context.Context, env event.Envelope) error
			wantCalls int
			wantError string
		}{
			{
				name: "permanent error",
				handler: func(context.Context, event.Envelope) error {
					return bus.Permanent(errors.New("unknown product"))
				},
				wantCalls: 1, wantError: "unknown product",
			},
			{
				name: "undecodable envelope",
				data: func(string) []byte { return []byte("{not json") },
				handler: func(context.Context, event.Envelope) error {
					return nil
				},
				wantCalls: 0, wantError: "decode envelope",
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := bustest.NewStream(t, b, bus.StreamConfig{})
				durable := "dl" + bustest.Unique()
				bustest.DeadLetter(t, b, durable)
				var calls atomic.Int32
				consume(t, b, bus.ConsumerConfig{
					Stream: s.Name, Durable: durable, MaxDeliver: 5,
					Backoff: []time.Duration{time.Hour},
					Handler: func(ctx context.Context, env event.Envelope) error {
						calls.Add(1)
						return tt.handler(ctx, env)
					},
				})
				env := newEvent(t, s.Subject("item", "changed"), nil)
				data, _ := json.Marshal(env)
				if tt.data != nil {
					data = tt.data(env.Type)
				}
				if err := b.Publish(ctxT(t), env.Type, env.ID, data,
					nats.Header{"X-Test": {"kept"}}); err != nil {
					t.Fatal(err)
				}
				dlSubject := bus.DeadLetterPrefix + durable + "." + env.Type
				bustest.Eventually(t, 10*time.Second, func() bool {
					return bustest.Count(t, b, bus.DeadLetterStream, dlSubject) == 1
				}, "no dead letter on %s", dlSubject)
				m := bustest.LastDeadLetter(t, b, dlSubject)
				if string(m.Data) != string(data) {
					t.Errorf("dead letter data = %q, want %q", m.Data, data)
				}
				checks := map[string]string{
					bus.HeaderDeadConsumer:   durable,
					bus.HeaderDeadDeliveries: "1",
					bus.HeaderDeadStream:     s.Name,
					bus.HeaderDeadSubject:    env.Type,
					bus.HeaderDeadMsgID:      env.ID,
					"X-Test":                 "kept",
				}
				for k, want := range checks {
					if got := m.Header.Get(k); got != want {
						t.Errorf("header %s = %q, want %q", k, got, want)
					}
				}
				if got := m.Header.Get(bus.HeaderDeadError); !strings.Contains(got,
					tt.wantError) {
					t.Errorf("error header = %q, want it to contain %q", got, tt.wantError)
				}
				if got := int(calls.Load()); got != tt.wantCalls {
					t.Errorf("handler calls = %d, want %d", got, tt.wantCalls)
				}
			})
		}
	})
}

func TestConsumerRecoversPanicsAndRetries(t *testing.T) {
	t.Parallel()
	b := bustest.EmbeddedBus(t)
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	durable := "panicky"
	bustest.DeadLetter(t, b, durable)
	var calls atomic.Int32
	consume(t, b, bus.ConsumerConfig{
		Stream: s.Name, Durable: durable, MaxDeliver: 3,
		Backoff: []time.Duration{10 * time.Millisecond},
		Handler: func(context.Context, event.Envelope) error {
			calls.Add(1)
			panic("boom")
		},
	})
	env := newEvent(t, s.Subject("item", "changed"), nil)
	if err := b.PublishEvent(ctxT(t), env); err != nil {
		t.Fatal(err)
	}
	dlSubject := bus.DeadLetterPrefix + durable + "." + env.Type
	bustest.Eventually(t, 10*time.Second, func() bool {
		return bustest.Count(t, b, bus.DeadLetterStream, dlSubject) == 1
	}, "no dead letter")
	m := bustest.LastDeadLetter(t, b, dlSubject)
	if got, want := m.Header.Get(bus.HeaderDeadDeliveries), "3"; got != want {
		t.Errorf("deliveries header = %q, want %q", got, want)
	}
	if got := m.Header.Get(bus.HeaderDeadError); !strings.Contains(got, "panic: boom") {
		t.Errorf("error header = %q, want a panic", got)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("handler calls = %d, want 3", got)
	}
}

func TestConsumerStopWaitsForHandler(t *testing.T) {
	t.Parallel()
	b := bustest.EmbeddedBus(t)
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	c, err := b.Consume(ctxT(t), bus.ConsumerConfig{
		Stream: s.Name, Durable: "slow",
		Handler: func(context.Context, event.Envelope) error {
			close(started)
			<-release
			finished.Store(true)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.PublishEvent(ctxT(t), newEvent(t, s.Subject("a", "b"), nil)); err != nil {
		t.Fatal(err)
	}
	<-started
	stopped := make(chan struct{})
	go func() { c.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while the handler was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-stopped
	if !finished.Load() {
		t.Error("handler did not finish before Stop returned")
	}
	c.Stop() // a second Stop is harmless
}

func TestBusOutageAndRecovery(t *testing.T) {
	t.Parallel()
	srv := bustest.NewRestartable(t)
	b := bustest.Dial(t, srv.URL())
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	got := make(chan string, 10)
	consume(t, b, bus.ConsumerConfig{
		Stream: s.Name, Durable: "survivor",
		Handler: func(_ context.Context, env event.Envelope) error {
			got <- env.ID
			return nil
		},
	})
	if err := b.Ready(ctxT(t)); err != nil {
		t.Fatalf("ready while up: %v", err)
	}

	srv.Stop()
	bustest.Eventually(t, 5*time.Second, func() bool { return !b.Conn().IsConnected() },
		"still connected after shutdown")
	for name, call := range map[string]func(context.Context) error{
		"ready": b.Ready,
		"publish": func(ctx context.Context) error {
			return b.PublishEvent(ctx, newEvent(t, s.Subject("a", "b"), nil))
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		cancel()
		if errs.KindOf(err) != errs.Unavailable {
			t.Errorf("%s while down: err = %v, want kind unavailable", name, err)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("%s while down took %s, past its 500ms deadline", name, elapsed)
		}
	}

	srv.Start()
	bustest.Eventually(t, 10*time.Second, func() bool { return b.Ready(ctxT(t)) == nil },
		"not ready after the server came back")
	env := newEvent(t, s.Subject("a", "b"), nil)
	if err := b.PublishEvent(ctxT(t), env); err != nil {
		t.Fatalf("publish after recovery (stream kept on disk?): %v", err)
	}
	select {
	case id := <-got:
		if id != env.ID {
			t.Errorf("consumed %s, want %s", id, env.ID)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("consumer did not resume after the server came back")
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := bustest.Embedded(t)
	nc, err := e.Connect("metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.New(nc, bus.Options{Registerer: reg, Logger: bustest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	// A second bus on the same registry shares the metrics instead of panicking.
	nc2, err := e.Connect("metrics2")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := bus.New(nc2, bus.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Close)

	s := bustest.NewStream(t, b, bus.StreamConfig{})
	bustest.DeadLetter(t, b, "counted")
	var mu sync.Mutex
	seen := map[string]int{}
	consume(t, b, bus.ConsumerConfig{
		Stream: s.Name, Durable: "counted", MaxDeliver: 2,
		Backoff: []time.Duration{time.Millisecond},
		Handler: func(_ context.Context, env event.Envelope) error {
			mu.Lock()
			defer mu.Unlock()
			seen[env.Type]++
			if strings.HasSuffix(env.Type, ".bad") {
				return errors.New("bad")
			}
			return nil
		},
	})
	good := newEvent(t, s.Subject("x", "good"), nil)
	for _, env := range []event.Envelope{good, good, newEvent(t, s.Subject("x", "bad"), nil)} {
		if err := b.PublishEvent(ctxT(t), env); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]float64{
		`emporium_bus_published_total{result="ok",subject="` + good.Type + `"}`:        1,
		`emporium_bus_published_total{result="duplicate",subject="` + good.Type + `"}`: 1,
		`emporium_bus_consumed_total{consumer="counted",result="ack"}`:                 1,
		`emporium_bus_consumed_total{consumer="counted",result="retry"}`:               1,
		`emporium_bus_consumed_total{consumer="counted",result="deadletter"}`:          1,
	}
	bustest.Eventually(t, 10*time.Second, func() bool {
		got := gather(t, reg)
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}, "metrics = %v, want %v", gatherLazy{t, reg}, want)
}

// gather flattens a registry's counters to name{labels} → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter() == nil {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}

type gatherLazy struct {
	t   *testing.T
	reg *prometheus.Registry
}

func (g gatherLazy) String() string {
	b, _ := json.Marshal(gather(g.t, g.reg))
	return string(b)
}
