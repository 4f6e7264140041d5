package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"

	"emporium/internal/event"
)

// Publish stores data on subject in JetStream and waits for the server's ack.
// msgID becomes Nats-Msg-Id, so a repeat within the stream's duplicate window
// is stored once. header is not modified. When the bus is down the error is
// an errs.Unavailable, returned by ctx's deadline (5 seconds without one). An
// error that no retry of this message can fix is marked Permanent (see
// IsPermanent): a message larger than the server's max_payload or the
// stream's max_msg_size, or a subject that no stream takes.
func (b *Bus) Publish(ctx context.Context, subject, msgID string, data []byte,
	header nats.Header) error {
	msg := &nats.Msg{Subject: subject, Data: data, Header: make(nats.Header, len(header)+1)}
	maps.Copy(msg.Header, header)
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	ack, err := b.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		b.metrics.published.WithLabelValues(subject, "error").Inc()
		return fmt.Errorf("bus publish %s: %w", subject, b.classifyPublish(ctx, subject, err))
	}
	result := "ok"
	if ack.Duplicate {
		result = "duplicate"
	}
	b.metrics.published.WithLabelValues(subject, result).Inc()
	return nil
}

// PublishEvent publishes env on the subject env.Type with env.ID as its
// Nats-Msg-Id, carrying the W3C trace context of ctx in its headers.
func (b *Bus) PublishEvent(ctx context.Context, env event.Envelope) error {
	if env.ID == "" {
		return fmt.Errorf("bus publish event %s: empty id", env.Type)
	}
	if err := event.ValidType(env.Type); err != nil {
		return fmt.Errorf("bus publish event: %w", err)
	}
	data, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("bus publish event %s: %w", env.Type, err)
	}
	header := nats.Header{}
	otel.GetTextMapPropagator().Inject(ctx, HeaderCarrier(header))
	return b.Publish(ctx, env.Type, env.ID, data, header)
}

// transient are the errors that mean the bus is down or unreachable for now.
var transient = []error{
	context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders, nats.ErrNoServers,
	nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrConnectionReconnecting,
	nats.ErrDisconnected, nats.ErrReconnectBufExceeded, nats.ErrStaleConnection,
	jetstream.ErrNoStreamResponse, jetstream.ErrJetStreamNotEnabled,
	jetstream.ErrJetStreamNotEnabledForAccount,
}

// classify marks err as errs.Unavailable when it means the bus is down or
// unreachable, and leaves errors about the request itself (a message too
// large, a feature the server lacks) as they are.
func classify(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == http.StatusServiceUnavailable {
		return unavailable(err)
	}
	for _, t := range transient {
		if errors.Is(err, t) {
			return unavailable(err)
		}
	}
	return err
}

// classifyPublish is classify for a failed publish of a message on subject,
// which also marks Permanent the errors that no retry of that message can fix.
//
// A publish to a subject that no stream takes finds no responders, but so does
// one while JetStream is down, not yet up, or between stream leaders. So no
// responders is permanent only when the bus is connected, JetStream answers,
// and the server says that no stream's subjects cover the subject; anything
// less certain (including a failure to ask) stays unavailable, and is retried.
func (b *Bus) classifyPublish(ctx context.Context, subject string, err error) error {
	switch {
	case errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return Permanent(err)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		if b.noStreamTakes(ctx, subject) {
			return Permanent(fmt.Errorf("no stream takes subject %s: %w", subject, err))
		}
	}
	return classify(err)
}

// noStreamTakes reports whether the server, asked while connected and with
// JetStream answering, says that no stream takes subject. Any doubt is false.
func (b *Bus) noStreamTakes(ctx context.Context, subject string) bool {
	if !b.nc.IsConnected() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return false
	}
	_, err := b.js.StreamNameBySubject(ctx, subject)
	return errors.Is(err, jetstream.ErrStreamNotFound)
}

// HeaderCarrier adapts nats.Header to OpenTelemetry's TextMapCarrier, so that
// trace context travels in message headers.
type HeaderCarrier nats.Header

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key with value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the keys present.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
