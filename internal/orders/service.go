package orders

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Service holds the orders use cases. It owns the transactions, and writes
// events to the outbox and effects to the effects table inside them.
type Service struct {
	db       *sqldb.DB
	catalog  catalogClient
	cart     cartClient
	payments paymentsClient
	log      *slog.Logger
	now      func() time.Time

	currency string
	shipping Shipping
	window   time.Duration // how long a placed order waits for its payment
	holdFor  time.Duration // the reservation's TTL: the window and holdGrace
	lease    time.Duration // how long a checkout's driver holds it before another may
	keepKeys time.Duration // how long Idempotency-Key records are kept

	sweepEvery time.Duration // the recovery and payment-window workers' pace

	watchers watchers // requests waiting for an order to change
}

// clock returns the time to store: UTC, in microseconds, which both
// databases keep exactly.
func (s *Service) clock() time.Time { return sqldb.Time(s.now()) }

// Viewer is who reads or changes an order: a customer sees only their own
// orders, an admin every order.
type Viewer struct {
	UserID string
	Admin  bool
}

func (v Viewer) sees(o *Order) bool { return o.placed() && (v.Admin || o.customerID == v.UserID) }

// Order returns an order the viewer may see; any other is ErrNotFound, so
// that ids cannot be probed.
func (s *Service) Order(ctx context.Context, v Viewer, id string) (*Order, error) {
	o, err := orderByID(ctx, s.db, id)
	if err == nil && !v.sees(o) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("order %s: %w", id, err)
	}
	return o, nil
}

// List returns a page of placed orders, newest first, and the cursor of the
// next page ("" on the last).
func (s *Service) List(ctx context.Context, q ListQuery) (web.List[*Order], error) {
	page, err := listOrders(ctx, s.db, listFilter{customerID: q.CustomerID, status: q.Status,
		limit: q.Limit, after: q.After})
	if err != nil {
		return web.List[*Order]{}, fmt.Errorf("list orders: %w", err)
	}
	return web.NewList(page, q.Limit, func(o *Order) any {
		return listCursor{CreatedAt: o.createdAt, ID: o.id}
	}), nil
}

// Cancel cancels an order the viewer may see, by the customer or an admin
// (the reason either way). An unpaid order's payment is cancelled and its
// hold released; a paid order's payment is refunded and its units restocked.
// Both happen after the commit, with retries (effects); the answer is the
// cancelled order. Any other status is ErrInvalidTransition.
func (s *Service) Cancel(ctx context.Context, v Viewer, id string) (*Order, error) {
	reason := ReasonCustomer
	if v.Admin {
		reason = ReasonAdmin
	}
	var o *Order
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if o, err = orderByID(ctx, tx, id); err != nil {
			return err
		}
		if !v.sees(o) {
			return ErrNotFound
		}
		return s.cancel(ctx, tx, o, reason)
	})
	if err != nil {
		return nil, fmt.Errorf("cancel order %s: %w", id, err)
	}
	return o, nil
}

// cancel cancels o in tx for reason, records what must follow, and announces it.
func (s *Service) cancel(ctx context.Context, tx *sqldb.Tx, o *Order, reason string) error {
	read, before := o.status, len(o.history)
	wasPaid, err := o.Cancel(reason, s.clock())
	if err != nil {
		return err
	}
	if err := s.save(ctx, tx, o, read, before, wasPaid); err != nil {
		return err
	}
	if wasPaid {
		if err := recordRefund(ctx, tx, o.paymentID, o.id, reason); err != nil {
			return err
		}
		return effect.Record(ctx, tx, effectRestock, o.id, stockEffect{OrderID: o.id,
			ReservationID: o.reservationID()})
	}
	if err := effect.Record(ctx, tx, effectCancelPayment, o.id, paymentEffect{
		PaymentID: o.paymentID, OrderID: o.id}); err != nil {
		return err
	}
	return effect.Record(ctx, tx, effectRelease, o.id, stockEffect{OrderID: o.id,
		ReservationID: o.reservationID()})
}

// SetStatus is the admin's shipping update: shipped (with an optional
// tracking number) for a paid order, delivered for a shipped one. Any other
// transition is ErrInvalidTransition.
func (s *Service) SetStatus(ctx context.Context, id string, in StatusRequest) (*Order, error) {
	var o *Order
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if o, err = orderByID(ctx, tx, id); err != nil {
			return err
		}
		if !o.placed() {
			return ErrNotFound
		}
		read, before := o.status, len(o.history)
		now := s.clock()
		switch in.Status {
		case StatusShipped:
			err = o.Ship(in.tracking(), now)
		case StatusDelivered:
			err = o.Deliver(now)
		}
		if err != nil {
			return err
		}
		return s.save(ctx, tx, o, read, before, false)
	})
	if err != nil {
		return nil, fmt.Errorf("order %s status %s: %w", id, in.Status, err)
	}
	return o, nil
}

// save writes o's change in tx and announces its new status through the
// outbox. read and before are its status and history length as read.
func (s *Service) save(ctx context.Context, tx *sqldb.Tx, o *Order, read string, before int,
	refunded bool) error {
	ok, err := s.update(ctx, tx, o, read, before)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: the order changed meanwhile", ErrInvalidTransition)
	}
	return announce(ctx, tx, o, refunded)
}

// announce writes the event of o's current status to the outbox.
func announce(ctx context.Context, tx *sqldb.Tx, o *Order, refunded bool) error {
	env, err := event.New(eventTypes[o.status], event.OrdersSource, o.changed(refunded))
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, env)
}
