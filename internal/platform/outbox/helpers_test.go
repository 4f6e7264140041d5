package outbox

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

func TestMain(m *testing.M) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	os.Exit(m.Run())
}

var schemas = []sqldb.Schema{Schema, inbox.Schema}

// each runs fn for every database dialect and every NATS server available.
func each(t *testing.T, fn func(t *testing.T, db *sqldb.DB, b *bus.Bus)) {
	t.Helper()
	sqldbtest.Run(t, schemas, func(t *testing.T, db *sqldb.DB) {
		bustest.Run(t, func(t *testing.T, b *bus.Bus) { fn(t, db, b) })
	})
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// commit adds n new events of type typ, each in its own transaction.
func commit(t testing.TB, db *sqldb.DB, typ string, n int) []event.Envelope {
	t.Helper()
	envs := make([]event.Envelope, n)
	for i := range envs {
		env, err := event.New(typ, "test", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		envs[i] = env
		if err := db.Tx(ctxT(t), func(tx *sqldb.Tx) error {
			return Add(ctxT(t), tx, env)
		}); err != nil {
			t.Fatalf("commit event %d: %v", i, err)
		}
	}
	return envs
}

// backlog counts unpublished rows.
func backlog(t testing.TB, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctxT(t),
		"SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").Scan(&n); err != nil {
		t.Fatalf("backlog: %v", err)
	}
	return n
}

// run runs r until the test ends.
func run(t testing.TB, r *Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("relay run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// streamIDs returns the Nats-Msg-Id of every message on the stream, in order.
func streamIDs(t testing.TB, b *bus.Bus, stream string) []string {
	t.Helper()
	var ids []string
	for _, m := range bustest.Messages(t, b, stream) {
		ids = append(ids, m.Header.Get("Nats-Msg-Id"))
	}
	return ids
}

func ids(envs []event.Envelope) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.ID
	}
	return out
}

// countingPublisher counts publishes per message id.
type countingPublisher struct {
	next Publisher
	mu   sync.Mutex
	n    map[string]int
}

func newCounting(next Publisher) *countingPublisher {
	return &countingPublisher{next: next, n: map[string]int{}}
}

func (p *countingPublisher) Publish(ctx context.Context, subject, msgID string, data []byte,
	header nats.Header) error {
	err := p.next.Publish(ctx, subject, msgID, data, header)
	if err == nil {
		p.mu.Lock()
		p.n[msgID]++
		p.mu.Unlock()
	}
	return err
}

func (p *countingPublisher) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.n))
	for k, v := range p.n {
		out[k] = v
	}
	return out
}

var errCrash = errors.New("simulated crash between publish and mark")
