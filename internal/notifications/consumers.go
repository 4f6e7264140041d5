package notifications

import (
	"context"
	"errors"
	"fmt"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/sqldb"
)

// The durable consumers, one per source stream; each also names the
// consumer's inbox.
const (
	consumerIdentity = "notifications-identity"
	consumerOrders   = "notifications-orders"
	consumerPayments = "notifications-payments"
)

// consumers are the service's durable consumers, each with one wildcard
// filter subject (NATS servers before 2.10 take only one), ignoring the
// event types it sends nothing for. A stream that does not exist yet (its
// service has not run) is consumed once it does. Each applies four events at
// once: the handlers are idempotent (inbox), do not rely on the order of
// events, and serialize on the customer's contact row where they must.
func (s *Service) consumers() []bus.ConsumerConfig {
	return []bus.ConsumerConfig{
		{Stream: app.IdentityStream, Durable: consumerIdentity, Concurrency: 4,
			FilterSubjects: []string{"identity.user.*"}, Handler: s.onIdentity},
		{Stream: event.OrdersStream, Durable: consumerOrders, Concurrency: 4,
			FilterSubjects: []string{"orders.order.*"}, Handler: s.onOrder},
		{Stream: event.PaymentsStream, Durable: consumerPayments, Concurrency: 4,
			FilterSubjects: []string{"payments.payment.*"}, Handler: s.onPayment},
	}
}

// onIdentity keeps the customer's contact from identity.user.registered and
// .updated (an older event than the one the contact came from changes
// nothing: events may arrive out of order), sends the welcome email for
// .registered, and sends what was waiting for the contact.
func (s *Service) onIdentity(ctx context.Context, env event.Envelope) error {
	if env.Type != event.UserRegistered && env.Type != event.UserUpdated {
		return nil
	}
	var uc event.UserContact
	if err := env.Decode(&uc); err != nil {
		return bus.Permanent(err)
	}
	if uc.UserID == "" || uc.Email == "" {
		return bus.Permanent(fmt.Errorf("%s %s: user_id and email are required", env.Type, env.ID))
	}
	c := Contact{UserID: uc.UserID, Email: uc.Email, Name: uc.Name, SMSOptIn: uc.SMSOptIn,
		AsOf: env.Time}
	if uc.Phone != nil {
		c.Phone = *uc.Phone
	}
	return inbox.Process(ctx, s.db, consumerIdentity, env, func(tx *sqldb.Tx) error {
		now := s.now()
		if err := upsertContact(ctx, tx, c, now); err != nil {
			return err
		}
		// The contact as it now stands, which may be newer than this event's.
		current, err := lockContact(ctx, tx, c.UserID)
		if err != nil {
			return err
		}
		if env.Type == event.UserRegistered {
			if err := s.queue(ctx, tx, env, current, now); err != nil {
				return err
			}
		}
		return s.releaseHeldFor(ctx, tx, current, now)
	})
}

// onOrder writes to the customer about a paid, shipped or cancelled order,
// and remembers every order's number for the payment emails.
func (s *Service) onOrder(ctx context.Context, env event.Envelope) error {
	var o event.OrderChanged
	if err := env.Decode(&o); err != nil {
		return bus.Permanent(err)
	}
	_, notify := kinds[env.Type]
	if !notify && o.Number == "" {
		return nil
	}
	return inbox.Process(ctx, s.db, consumerOrders, env, func(tx *sqldb.Tx) error {
		if o.OrderID != "" && o.Number != "" {
			if err := saveOrderNumber(ctx, tx, o.OrderID, o.Number); err != nil {
				return err
			}
		}
		if !notify {
			return nil
		}
		return s.notify(ctx, tx, env, o.CustomerID, s.now())
	})
}

// onPayment writes to the customer about a refund or a declined payment.
func (s *Service) onPayment(ctx context.Context, env event.Envelope) error {
	if _, notify := kinds[env.Type]; !notify {
		return nil
	}
	var p event.PaymentChanged
	if err := env.Decode(&p); err != nil {
		return bus.Permanent(err)
	}
	if p.CustomerID == "" {
		return bus.Permanent(errors.New("payment event without customer_id"))
	}
	return inbox.Process(ctx, s.db, consumerPayments, env, func(tx *sqldb.Tx) error {
		return s.notify(ctx, tx, env, p.CustomerID, s.now())
	})
}
