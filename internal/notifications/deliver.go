package notifications

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/sqldb"
)

// kindDeadLetter is the effect that publishes a dead letter.
const kindDeadLetter = "notifications-deadletter"

// HeaderDeadDelivery names, on a dead letter, the delivery that failed.
const HeaderDeadDelivery = "Emporium-Dead-Delivery"

// bookkeepingTimeout bounds the writes that record an attempt's outcome,
// which run even when the attempt used up its own time.
const bookkeepingTimeout = 10 * time.Second

// deliver is the effect handler of the email and sms kinds: it sends the
// delivery's message and records the outcome on the delivery. The handler,
// not the runner, decides when to give up (after Config.MaxAttempts
// attempts, or at once on a permanent error): it marks the delivery failed
// and records its dead letter in one transaction, then answers a permanent
// error so the runner stops. Should that transaction fail, the runner tries
// again (it allows a few attempts more than MaxAttempts) and the handler,
// seeing the attempts used up, records the failure without sending.
func (s *Service) deliver(ctx context.Context, e effect.Effect) error {
	var p sendPayload
	if err := e.Decode(&p); err != nil {
		return bus.Permanent(err)
	}
	d, err := deliveryByID(ctx, s.db, p.DeliveryID)
	if errors.Is(err, sql.ErrNoRows) {
		return bus.Permanent(fmt.Errorf("delivery %s: not found", p.DeliveryID))
	}
	if err != nil {
		return err
	}
	if d.Status == StatusSent {
		return nil // sent by an attempt whose effect was not marked done
	}
	provider := s.provider(e.Kind)
	attempts := e.Attempt
	var sendErr error
	if e.Attempt > s.cfg.MaxAttempts {
		// The attempts are used up; the last one's outcome went unrecorded
		// (the process stopped, or the database failed).
		attempts = max(d.Attempts, s.cfg.MaxAttempts)
		sendErr = errors.New("no attempt left")
		if d.LastError != nil {
			sendErr = errors.New(*d.LastError)
		}
	} else {
		sendErr = s.send(ctx, e.Kind, p)
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	log := s.log.With(slog.String("delivery_id", d.ID), slog.String("channel", d.Channel),
		slog.String("event_id", d.EventID), slog.String("provider", provider),
		slog.Int("attempt", attempts))
	if sendErr == nil {
		if provider == ProviderFile {
			// No provider configured: say where the message is, for a
			// newcomer reading the logs.
			log.Info("message written to the outbox directory", slog.String("dir", s.outboxDir))
		}
		// Should this fail, the effect is tried again and the message may go
		// out twice, with the same Message-ID.
		return markSent(bctx, s.db, d.ID, attempts, provider, s.now())
	}
	if !bus.IsPermanent(sendErr) && e.Attempt < s.cfg.MaxAttempts {
		if err := markRetrying(bctx, s.db, d.ID, attempts, provider, errorText(sendErr)); err != nil {
			log.Warn("recording a failed attempt", slog.String("error", err.Error()))
		}
		return sendErr
	}
	code := ErrorCodeGaveUp
	if bus.IsPermanent(sendErr) {
		code = ErrorCodeRejected
	}
	err = s.db.Tx(bctx, func(tx *sqldb.Tx) error {
		if err := markFailed(bctx, tx, d.ID, attempts, provider, code, errorText(sendErr)); err != nil {
			return err
		}
		return recordDeadLetter(bctx, tx, p.Event, d.Channel, d.ID, attempts, errorText(sendErr))
	})
	if err != nil {
		// Not permanent: the runner comes back, and the failure is recorded then.
		return fmt.Errorf("%s; recording the failure: %w", sendErr, err)
	}
	log.Error("message not delivered; the delivery failed and the event is dead-lettered",
		slog.String("error", sendErr.Error()), slog.Bool("permanent", bus.IsPermanent(sendErr)))
	return bus.Permanent(sendErr)
}

// send sends the message of an effect of kind email or sms.
func (s *Service) send(ctx context.Context, kind string, p sendPayload) error {
	switch {
	case kind == ChannelEmail && p.Email != nil:
		return s.mailer.SendEmail(ctx, *p.Email)
	case kind == ChannelSMS && p.SMS != nil:
		return s.texter.SendSMS(ctx, *p.SMS)
	}
	return bus.Permanent(fmt.Errorf("effect %s without its message", kind))
}

// provider names what sends the effects of kind.
func (s *Service) provider(kind string) string {
	if kind == ChannelSMS {
		return s.texter.Provider()
	}
	return s.mailer.Provider()
}

// deadLetter is what a dead-letter effect publishes.
type deadLetter struct {
	Subject string            `json:"subject"`
	MsgID   string            `json:"msg_id"`
	Data    json.RawMessage   `json:"data"` // the event as it was published
	Headers map[string]string `json:"headers"`
}

// recordDeadLetter records in tx that env is to be published to the
// dead-letter subject deadletter.notifications-<channel>.<event type>, with
// the bus's dead-letter headers, once per event and channel.
func recordDeadLetter(ctx context.Context, tx *sqldb.Tx, env event.Envelope, channel,
	deliveryID string, attempts int, cause string) error {
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	consumer := "notifications-" + channel
	dl := deadLetter{
		Subject: bus.DeadLetterPrefix + consumer + "." + env.Type,
		MsgID:   consumer + "." + env.ID,
		Data:    data,
		Headers: map[string]string{
			bus.HeaderDeadError:      headerValue(cause),
			bus.HeaderDeadConsumer:   consumer,
			bus.HeaderDeadDeliveries: strconv.Itoa(attempts),
			bus.HeaderDeadSubject:    env.Type,
			bus.HeaderDeadMsgID:      env.ID,
			HeaderDeadDelivery:       deliveryID,
		},
	}
	return effect.Record(ctx, tx, kindDeadLetter, dl.MsgID, dl)
}

// publishDeadLetter is the effect handler that publishes a dead letter.
func (s *Service) publishDeadLetter(ctx context.Context, e effect.Effect) error {
	var dl deadLetter
	if err := e.Decode(&dl); err != nil {
		return bus.Permanent(err)
	}
	h := nats.Header{}
	for k, v := range dl.Headers {
		h.Set(k, v)
	}
	return s.bus.Publish(ctx, dl.Subject, dl.MsgID, dl.Data, h)
}

// headerValue makes s safe for a NATS header: one line, at most 1 KiB.
func headerValue(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 1024 {
		s = strings.ToValidUTF8(s[:1024], "")
	}
	return s
}

// errorText bounds an error for the last_error column.
func errorText(err error) string {
	s := err.Error()
	if len(s) > 2000 {
		s = strings.ToValidUTF8(s[:2000], "")
	}
	return s
}
