package notifications

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Service is the notifications service's use cases.
type Service struct {
	db     *sqldb.DB
	bus    *bus.Bus // dead letters go out on it
	cfg    Config
	log    *slog.Logger
	now    func() time.Time // UTC, at the databases' resolution
	mailer Mailer
	texter Texter
	// outboxDir is where messages go without a provider; "" when both are
	// configured.
	outboxDir string
}

// sendPayload is what an email or SMS effect carries: the message as
// rendered when the event arrived, and the event, for its dead letter.
type sendPayload struct {
	DeliveryID string         `json:"delivery_id"`
	Email      *Email         `json:"email,omitempty"`
	SMS        *SMS           `json:"sms,omitempty"`
	Event      event.Envelope `json:"event"`
}

// notify addresses the message env causes to its customer, or holds env
// until the customer's contact arrives.
func (s *Service) notify(ctx context.Context, tx *sqldb.Tx, env event.Envelope, customerID string,
	now time.Time) error {
	if customerID == "" {
		return bus.Permanent(fmt.Errorf("notify %s %s: the event names no customer", env.Type, env.ID))
	}
	c, err := lockContact(ctx, tx, customerID)
	if errors.Is(err, errNoContact) {
		raw, err := json.Marshal(env)
		if err != nil {
			return err
		}
		s.log.InfoContext(ctx, "no contact for the customer yet; the event waits for it",
			slog.String("event_id", env.ID), slog.String("event_type", env.Type),
			slog.String("customer_id", customerID))
		return holdEvent(ctx, tx, heldEvent{EventID: env.ID, CustomerID: customerID,
			Envelope: string(raw), ReceivedAt: now})
	}
	if err != nil {
		return err
	}
	return s.queue(ctx, tx, env, c, now)
}

// queue records, in tx, a pending delivery and its sending effect for each
// channel the message of env goes out on to c: email always, SMS for the
// kinds that have one when c opted in and has a phone. A delivery past the
// customer's quota is recorded failed instead, and not sent. A delivery
// already recorded for the event and channel is left alone.
func (s *Service) queue(ctx context.Context, tx *sqldb.Tx, env event.Envelope, c *Contact,
	now time.Time) error {
	if age := now.Sub(env.Time); age > s.cfg.MaxEventAge {
		s.log.InfoContext(ctx, "event too old to write about; nothing sent",
			slog.String("event_id", env.ID), slog.String("event_type", env.Type),
			slog.Duration("age", age.Round(time.Second)), slog.Duration("max_age", s.cfg.MaxEventAge))
		return nil
	}
	k := kinds[env.Type]
	m, err := s.compose(ctx, tx, env, c)
	if err != nil {
		return err
	}
	recipients := []struct{ channel, to string }{{ChannelEmail, c.Email}}
	if k.sms && c.wantsSMS() {
		recipients = append(recipients, struct{ channel, to string }{ChannelSMS, c.Phone})
	}
	sent, err := countMessages(ctx, tx, c.UserID, now.Add(-s.cfg.QuotaWindow))
	if err != nil {
		return err
	}
	for _, r := range recipients {
		d := &Delivery{ID: newID(), EventID: env.ID, EventType: env.Type, Channel: r.channel,
			CustomerID: c.UserID, Recipient: r.to, Subject: m.Subject, Status: StatusPending,
			CreatedAt: now}
		if sent >= s.cfg.Quota {
			d.Status = StatusFailed
			d.ErrorCode = ptr(ErrorCodeQuota)
			d.LastError = ptr(fmt.Sprintf("quota exceeded: %d messages to this customer within %s",
				sent, s.cfg.QuotaWindow))
		}
		inserted, err := insertDelivery(ctx, tx, d)
		if err != nil {
			return err
		}
		if !inserted {
			continue
		}
		if d.Status != StatusPending {
			s.log.WarnContext(ctx, "message not sent: the customer's quota is used up",
				slog.String("event_id", env.ID), slog.String("channel", r.channel),
				slog.String("customer_id", c.UserID), slog.Int("quota", s.cfg.Quota),
				slog.Duration("window", s.cfg.QuotaWindow))
			continue
		}
		sent++
		p := sendPayload{DeliveryID: d.ID, Event: env}
		if r.channel == ChannelEmail {
			p.Email = &Email{ID: d.ID, To: c.Email, ToName: c.Name, Subject: m.Subject,
				Text: m.Text, HTML: m.HTML}
		} else {
			p.SMS = &SMS{ID: d.ID, To: c.Phone, Body: m.SMS}
		}
		if err := effect.Record(ctx, tx, r.channel, d.ID, p); err != nil {
			return err
		}
	}
	return nil
}

// compose renders the message env causes for c (nil when unknown: the
// greeting then has no name).
func (s *Service) compose(ctx context.Context, tx *sqldb.Tx, env event.Envelope,
	c *Contact) (Message, error) {
	k, ok := kinds[env.Type]
	if !ok {
		return Message{}, bus.Permanent(fmt.Errorf("compose %s: not a message", env.Type))
	}
	v := view{Shop: s.cfg.ShopName}
	if c != nil {
		v.Name, v.Email = c.Name, c.Email
	}
	switch env.Type {
	case event.OrderPaid, event.OrderShipped, event.OrderCancelled:
		var o event.OrderChanged
		if err := env.Decode(&o); err != nil {
			return Message{}, bus.Permanent(err)
		}
		v.Order = orderViewOf(o)
	case event.PaymentRefunded, event.PaymentFailed:
		var p event.PaymentChanged
		if err := env.Decode(&p); err != nil {
			return Message{}, bus.Permanent(err)
		}
		number, err := orderNumber(ctx, tx, p.OrderID)
		if err != nil {
			return Message{}, err
		}
		v.Payment = paymentViewOf(p, number)
	}
	m, err := render(k, v)
	if err != nil {
		// A template that fails on this event fails on every redelivery.
		return Message{}, bus.Permanent(err)
	}
	return m, nil
}

// releaseHeldFor queues the events held for c's customer, up to a page of
// them; the sweeper releases any beyond.
func (s *Service) releaseHeldFor(ctx context.Context, tx *sqldb.Tx, c *Contact, now time.Time) error {
	held, err := heldEvents(ctx, tx, heldForCustomer, heldPage, c.UserID)
	if err != nil {
		return err
	}
	for _, h := range held {
		if err := s.release(ctx, tx, h, c, now); err != nil {
			return err
		}
	}
	return nil
}

// release queues a held event for its contact, unless another transaction
// released it first.
func (s *Service) release(ctx context.Context, tx *sqldb.Tx, h heldEvent, c *Contact,
	now time.Time) error {
	ok, err := releaseHeld(ctx, tx, h.EventID)
	if err != nil || !ok {
		return err
	}
	var env event.Envelope
	if err := json.Unmarshal([]byte(h.Envelope), &env); err != nil {
		return bus.Permanent(fmt.Errorf("held event %s: %w", h.EventID, err))
	}
	s.log.InfoContext(ctx, "the customer's contact arrived; the event waiting for it is sent",
		slog.String("event_id", env.ID), slog.String("event_type", env.Type),
		slog.String("customer_id", c.UserID))
	return s.queue(ctx, tx, env, c, now)
}

// heldPage bounds the held events one transaction releases.
const heldPage = 100

// DeliveryList is a page of the delivery log.
type DeliveryList = web.List[Delivery]

// ListDeliveries returns a page of the deliveries f selects, newest first,
// as an admin sees them (recipients whole).
func (s *Service) ListDeliveries(ctx context.Context, f DeliveryFilter, page web.Page) (DeliveryList, error) {
	var after deliveryCursor
	has, err := page.After(&after)
	if err != nil {
		return DeliveryList{}, err
	}
	var cursor *deliveryCursor
	if has {
		cursor = &after
	}
	found, err := listDeliveries(ctx, s.db, f, cursor, page.Limit)
	if err != nil {
		return DeliveryList{}, fmt.Errorf("list deliveries: %w", err)
	}
	items := make([]Delivery, len(found))
	for i, d := range found {
		items[i] = *d
	}
	return web.NewList(items, page.Limit, func(d Delivery) any {
		return deliveryCursor{CreatedAt: d.CreatedAt, ID: d.ID}
	}), nil
}

// CustomerDeliveries is ListDeliveries of one customer's deliveries, as the
// customer sees them (recipients masked).
func (s *Service) CustomerDeliveries(ctx context.Context, customerID string, f DeliveryFilter,
	page web.Page) (DeliveryList, error) {
	f.CustomerID = customerID
	l, err := s.ListDeliveries(ctx, f, page)
	if err != nil {
		return DeliveryList{}, err
	}
	for i := range l.Items {
		l.Items[i] = l.Items[i].ForCustomer()
	}
	return l, nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func ptr[T any](v T) *T { return &v }
