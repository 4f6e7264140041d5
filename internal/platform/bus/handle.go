package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"emporium/internal/event"
)

// Headers added to a dead letter, beside the original message's own.
const (
	HeaderDeadError      = "Emporium-Dead-Error"      // the last handler error
	HeaderDeadConsumer   = "Emporium-Dead-Consumer"   // the durable that gave up
	HeaderDeadDeliveries = "Emporium-Dead-Deliveries" // deliveries made
	HeaderDeadStream     = "Emporium-Dead-Stream"     // the original stream
	HeaderDeadSequence   = "Emporium-Dead-Sequence"   // its sequence there
	HeaderDeadSubject    = "Emporium-Dead-Subject"    // its subject
	HeaderDeadMsgID      = "Emporium-Dead-Msg-Id"     // its Nats-Msg-Id
)

const tracerName = "emporium/internal/platform/bus"

// maxCauses bounds the handler errors a consumer keeps for dead letters it
// could not store; past it a dead letter says only how often it was delivered.
const maxCauses = 10000

// handle runs the handler on one delivery and answers the server: ack on
// success, a delayed nak to retry, or dead-letter and terminate.
func (c *Consumer) handle(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery; nothing sensible to answer.
		c.log.Error("bus consumer: message without metadata", "subject", msg.Subject(),
			"err", err)
		return
	}
	delivered := int(md.NumDelivered)
	ctx := otel.GetTextMapPropagator().Extract(c.base, HeaderCarrier(msg.Headers()))
	ctx, span := otel.Tracer(tracerName).Start(ctx, "consume "+msg.Subject(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", c.cfg.Durable),
			attribute.Int("messaging.nats.delivery_count", delivered),
		))
	defer span.End()

	env, err := decodeEnvelope(msg.Data())
	eventID := env.ID
	if eventID == "" {
		eventID = msg.Headers().Get(jetstream.MsgIDHeader)
	}
	log := c.log.With("event_id", eventID, "event_type", env.Type, "subject", msg.Subject(),
		"delivery", delivered, "stream_seq", md.Sequence.Stream)
	if err == nil && delivered > c.cfg.MaxDeliver {
		// The handler has had its deliveries: the last one decided to
		// dead-letter and could not, or they ended without an answer (the
		// process died, AckWait ran out). Calling it again could crash the
		// process again; dead-letter the message instead.
		c.statsMu.Lock()
		err = c.causes[md.Sequence.Stream]
		c.statsMu.Unlock()
		if err == nil {
			err = fmt.Errorf("no answer after %d deliveries (the process stopped or "+
				"AckWait ran out); see the logs of the deliveries before", delivered-1)
		}
	} else if err == nil {
		// The server's AckWait clock started at delivery, and the message may
		// have waited in the prefetch buffer since; restart it now that the
		// handler's own time limit starts.
		if err := msg.InProgress(); err != nil {
			log.Warn("bus consumer: in progress", "err", err)
		}
		start := time.Now()
		err = c.call(ctx, env)
		took := time.Since(start)
		c.bus.metrics.handle.WithLabelValues(c.cfg.Durable).Observe(took.Seconds())
		c.statsMu.Lock()
		c.pace.observe(took, c.cfg, c.log)
		c.statsMu.Unlock()
	}

	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			log.Warn("bus consumer: ack", "err", err)
		}
		c.bus.metrics.consumed.WithLabelValues(c.cfg.Durable, "ack").Inc()
		return
	case IsPermanent(err) || delivered >= c.cfg.MaxDeliver:
		span.SetStatus(codes.Error, "dead-lettered")
		span.RecordError(err)
		c.deadLetter(ctx, log, msg, md, err)
	default:
		span.SetStatus(codes.Error, "retry")
		span.RecordError(err)
		delay := c.backoff(delivered)
		log.Warn("bus consumer: handler failed, will retry", "err", err, "retry_in", delay,
			"max_deliver", c.cfg.MaxDeliver)
		c.nak(log, msg, delay)
	}
}

// call runs the handler, turning a panic into an error. The handler has
// nine tenths of AckWait, so that its answer reaches the server in time.
func (c *Consumer) call(ctx context.Context, env event.Envelope) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AckWait-c.cfg.AckWait/10)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("bus consumer: handler panic", "event_id", env.ID, "panic", p,
				"stack", string(debug.Stack()))
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return c.cfg.Handler(ctx, env)
}

// decodeEnvelope reads an envelope; one that cannot be read is a permanent error.
func decodeEnvelope(data []byte) (event.Envelope, error) {
	var env event.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return event.Envelope{}, Permanent(fmt.Errorf("decode envelope: %w", err))
	}
	if env.ID == "" || env.Type == "" {
		return env, Permanent(errors.New("decode envelope: id and type are required"))
	}
	return env, nil
}

// backoff is the delay before the delivery after the nth.
func (c *Consumer) backoff(delivered int) time.Duration {
	return c.cfg.Backoff[min(max(delivered-1, 0), len(c.cfg.Backoff)-1)]
}

func (c *Consumer) nak(log *slog.Logger, msg jetstream.Msg, delay time.Duration) {
	if err := msg.NakWithDelay(delay); err != nil {
		log.Warn("bus consumer: nak", "err", err)
	}
	c.bus.metrics.consumed.WithLabelValues(c.cfg.Durable, "retry").Inc()
}

// deadLetter publishes the message to deadletter.<durable>.<subject> with its
// data and headers plus the reason, then terminates it. When the dead-letter
// publish fails the message is kept (a delayed nak) and the failure logged at
// error level and counted, every time, so it is never dropped in silence.
func (c *Consumer) deadLetter(ctx context.Context, log *slog.Logger, msg jetstream.Msg,
	md *jetstream.MsgMetadata, cause error) {
	h := make(nats.Header, len(msg.Headers())+7)
	for k, v := range msg.Headers() {
		// Nats-* headers steer JetStream (dedupe, expectations); keep them out.
		if !strings.HasPrefix(k, "Nats-") {
			h[k] = slices.Clone(v)
		}
	}
	h.Set(HeaderDeadError, headerValue(cause.Error()))
	h.Set(HeaderDeadConsumer, c.cfg.Durable)
	h.Set(HeaderDeadDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	h.Set(HeaderDeadStream, md.Stream)
	h.Set(HeaderDeadSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	h.Set(HeaderDeadSubject, msg.Subject())
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		h.Set(HeaderDeadMsgID, id)
	}
	subject := DeadLetterPrefix + c.cfg.Durable + "." + msg.Subject()
	// One dead letter per stream message and consumer, however often this runs.
	msgID := fmt.Sprintf("%s.%s.%d", c.cfg.Durable, md.Stream, md.Sequence.Stream)
	pubCtx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if err := c.bus.Publish(pubCtx, subject, msgID, msg.Data(), h); err != nil {
		delay := c.backoff(int(md.NumDelivered))
		log.Error("bus consumer: dead-letter publish failed; the message is kept and "+
			"will be dead-lettered again", "err", err, "cause", cause, "retry_in", delay,
			"deadletter_subject", subject)
		c.statsMu.Lock()
		if len(c.causes) < maxCauses {
			c.causes[md.Sequence.Stream] = cause
		}
		c.statsMu.Unlock()
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("bus consumer: nak", "err", err)
		}
		c.bus.metrics.consumed.WithLabelValues(c.cfg.Durable, "deadletter_failed").Inc()
		return
	}
	c.statsMu.Lock()
	delete(c.causes, md.Sequence.Stream)
	c.statsMu.Unlock()
	log.Error("bus consumer: event dead-lettered", "err", cause,
		"deadletter_subject", subject, "permanent", IsPermanent(cause))
	if err := msg.Term(); err != nil {
		log.Warn("bus consumer: term", "err", err)
	}
	c.bus.metrics.consumed.WithLabelValues(c.cfg.Durable, "deadletter").Inc()
}

// headerValue makes s safe for a NATS header: one line, at most 1 KiB.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = strings.ToValidUTF8(s[:1024], "")
	}
	return s
}
