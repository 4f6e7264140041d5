// Package bus is Emporium's event bus on NATS JetStream: an embeddable server,
// streams, publishing with deduplication by event id, and durable pull
// consumers that retry with backoff and dead-letter what they cannot handle.
//
// Publishing inside a database transaction is the outbox package's job; a
// consumer that must apply each event once pairs a Consumer with the inbox
// package.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/redact"
)

// Options configure a Bus. The zero value is usable: logs go to slog.Default() and
// metrics go to a private registry.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Bus is a connection to NATS with its JetStream context. It survives the
// server going away: the connection reconnects forever, publishes fail fast
// with an errs.Unavailable error meanwhile, and consumers resume when it is back.
type Bus struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	metrics *metrics
	closed  chan struct{}
}

// requestTimeout bounds JetStream API calls made without a deadline.
const requestTimeout = 5 * time.Second

// Connect dials the NATS server at url (nats://host:port, or a comma-separated
// list of them) as the client called name, with the reconnect policy of a Bus.
// The dial itself gives up at ctx's deadline or after 5 seconds.
func Connect(ctx context.Context, url, name string, opts Options) (*Bus, error) {
	timeout := requestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(d), time.Millisecond))
	}
	nc, err := nats.Connect(url, append(connOptions(name), nats.Timeout(timeout))...)
	if err != nil {
		return nil, fmt.Errorf("bus connect %s: %w", redact.URL(url),
			unavailable(redact.Error(err, url)))
	}
	b, err := New(nc, opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return b, nil
}

// New wraps an open connection, which the Bus then owns and closes. Connect and
// Embedded.Connect open connections with the right reconnect policy; a
// connection made elsewhere keeps its own.
func New(nc *nats.Conn, opts Options) (*Bus, error) {
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(requestTimeout))
	if err != nil {
		return nil, fmt.Errorf("bus new: %w", err)
	}
	log := observability.OrDefault(opts.Logger).With("component", "bus")
	b := &Bus{nc: nc, js: js, log: log, metrics: newMetrics(opts.Registerer),
		closed: make(chan struct{})}
	nc.SetDisconnectErrHandler(func(_ *nats.Conn, err error) {
		if err != nil {
			log.Warn("bus disconnected", "err", err)
		}
	})
	nc.SetReconnectHandler(func(c *nats.Conn) {
		log.Info("bus reconnected", "server", c.ConnectedUrlRedacted())
	})
	nc.SetErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		subject := ""
		if sub != nil {
			subject = sub.Subject
		}
		log.Warn("bus async error", "subject", subject, "err", err)
	})
	nc.SetClosedHandler(func(*nats.Conn) { close(b.closed) })
	if nc.IsClosed() {
		close(b.closed)
		return nil, errors.New("bus new: connection is closed")
	}
	return b, nil
}

// Conn returns the underlying connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream returns the underlying JetStream context, for administration that
// the Bus does not wrap (stream info, purges, tests).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Close drains the connection: subscriptions stop, pending publishes are
// flushed, then it closes. Stop consumers first so that their handlers finish.
func (b *Bus) Close() {
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
	}
	select {
	case <-b.closed:
	case <-time.After(2 * requestTimeout):
		b.nc.Close()
	}
}

// Ready reports whether the bus is connected and JetStream answers, for a
// readiness probe. It returns an errs.Unavailable error otherwise, and returns
// by ctx's deadline (or within 2 seconds).
func (b *Bus) Ready(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("bus ready: %w",
			unavailable(fmt.Errorf("connection %s", b.nc.Status())))
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("bus ready: %w", unavailable(err))
	}
	return nil
}

// connOptions is the connection policy of every Bus: reconnect forever with
// capped, jittered backoff, and no reconnect buffer, so that a publish while
// disconnected fails at once instead of being queued behind the caller's back.
func connOptions(name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(20 * time.Second),
		nats.MaxPingsOutstanding(3),
	}
}

// reconnectPolicy spaces a Bus's reconnects and a consumer's attempts to
// reopen: from 50ms doubling to 2s, with 20% jitter so that many clients do
// not retry in step.
var reconnectPolicy = backoff.Policy{Initial: 50 * time.Millisecond, Max: 2 * time.Second,
	Jitter: 0.2}

// reconnectDelay is the wait before reconnect attempt n.
func reconnectDelay(attempts int) time.Duration { return reconnectPolicy.Delay(attempts) }

// unavailable marks err as the bus being unavailable.
func unavailable(err error) error {
	return &errs.Error{Kind: errs.Unavailable, Code: "unavailable",
		Message: "the event bus is unavailable", RetryAfter: time.Second, Err: err}
}
