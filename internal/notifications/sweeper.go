package notifications

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/periodic"
	"emporium/internal/platform/sqldb"
)

// sweepHeld is the worker that looks after the events waiting for a
// contact, every Config.sweepEvery: it sends those whose contact has
// arrived meanwhile (the identity consumer sends them at once, unless the
// two transactions crossed or there were more than a page), and gives up on
// those that waited past Config.ContactWait.
func (s *Service) sweepHeld(ctx context.Context) error {
	return periodic.NowAndEvery(s.cfg.sweepEvery, s.sweepHeldOnce)(ctx)
}

// sweepHeldOnce is one round of sweepHeld.
func (s *Service) sweepHeldOnce(ctx context.Context) error {
	for {
		ready, err := heldEvents(ctx, s.db, heldReady, heldPage)
		if err != nil {
			return fmt.Errorf("sweep held events: %w", err)
		}
		for _, h := range ready {
			err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
				c, err := lockContact(ctx, tx, h.CustomerID)
				if err != nil {
					return err
				}
				return s.release(ctx, tx, h, c, s.now())
			})
			if err != nil {
				if !bus.IsPermanent(err) {
					return fmt.Errorf("sweep held event %s: %w", h.EventID, err)
				}
				// Left held: it expires, and is dead-lettered, in its time.
				s.log.ErrorContext(ctx, "a held event cannot be sent", slog.String("event_id",
					h.EventID), slog.String("error", err.Error()))
			}
		}
		if len(ready) < heldPage {
			break
		}
	}
	expired, err := heldEvents(ctx, s.db, heldExpired, heldPage, s.now().Add(-s.cfg.ContactWait))
	if err != nil {
		return fmt.Errorf("sweep held events: %w", err)
	}
	for _, h := range expired {
		if err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
			return s.giveUpWaiting(ctx, tx, h)
		}); err != nil {
			return fmt.Errorf("sweep held event %s: %w", h.EventID, err)
		}
	}
	return nil
}

// giveUpWaiting ends the wait of an event whose contact never came: its
// email is recorded failed (error code contact_unknown, no recipient) and
// the event is dead-lettered.
func (s *Service) giveUpWaiting(ctx context.Context, tx *sqldb.Tx, h heldEvent) error {
	ok, err := releaseHeld(ctx, tx, h.EventID)
	if err != nil || !ok {
		return err
	}
	var env event.Envelope
	if err := json.Unmarshal([]byte(h.Envelope), &env); err != nil {
		return err
	}
	subject := ""
	if m, err := s.compose(ctx, tx, env, nil); err == nil {
		subject = m.Subject
	} else if !bus.IsPermanent(err) {
		return err
	}
	now := s.now()
	cause := fmt.Sprintf("no contact for customer %s: no identity event told one within %s",
		h.CustomerID, s.cfg.ContactWait)
	d := &Delivery{ID: newID(), EventID: env.ID, EventType: env.Type, Channel: ChannelEmail,
		CustomerID: h.CustomerID, Subject: subject, Status: StatusFailed,
		ErrorCode: ptr(ErrorCodeNoContact), LastError: &cause, CreatedAt: now}
	inserted, err := insertDelivery(ctx, tx, d)
	if err != nil || !inserted {
		return err
	}
	s.log.ErrorContext(ctx, "message not sent: its customer's contact never arrived; the event "+
		"is dead-lettered", slog.String("event_id", env.ID), slog.String("event_type", env.Type),
		slog.String("customer_id", h.CustomerID), slog.Duration("waited", now.Sub(h.ReceivedAt)))
	return recordDeadLetter(ctx, tx, env, ChannelEmail, d.ID, 0, cause)
}
