package orders

// The checkout saga: an order is written at its first step, then its stock
// reserved, its payment created and the order placed, each step recorded in
// the order's row (see drive). The recovery worker (recovery.go) drives any
// checkout its request left unfinished.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"emporium/internal/platform/effect"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
)

// refusal is a checkout refused before any stock was held, with its answer:
// a line's product is unknown or not for sale or shows too little available,
// or the total is more than a payment may be.
type refusal struct{ err error }

func (e *refusal) Error() string { return e.err.Error() }

// newOrder prices the cart's items at the catalog's current prices and makes
// the order, at its first step. A line the catalog cannot sell as asked is
// a *refusal naming every such line, as is a total too large to pay.
func (s *Service) newOrder(ctx context.Context, rec *keyRecord, items []cartItem,
	addr Address) (*Order, error) {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	products, err := s.catalog.products(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := rec.createdAt
	o := &Order{id: rec.orderID, customerID: rec.customerID, status: statusCheckout,
		step: stepReserving, address: addr, idempotencyKey: rec.key, history: []StatusChange{},
		createdAt: now, updatedAt: now, leaseUntil: now.Add(s.lease)}
	var short []shortLine
	subtotal := Money{Currency: s.currency}
	for _, it := range items {
		p, ok := products[it.ProductID]
		if !ok || p.Status != "active" || p.Available < it.Quantity {
			short = append(short, shortLine{ProductID: it.ProductID, Requested: it.Quantity,
				Available: max(p.Available, 0)})
			if ok && p.Status != "active" {
				short[len(short)-1].Available = 0
			}
			continue
		}
		if p.Price.Currency != s.currency {
			return nil, fmt.Errorf("product %s is priced in %s, the store sells in %s",
				p.ID, p.Price.Currency, s.currency)
		}
		line := Line{ProductID: p.ID, SKU: p.SKU, Name: p.Name, UnitPrice: p.Price,
			Quantity: int(it.Quantity), LineTotal: Money{Amount: p.Price.Amount * it.Quantity,
				Currency: s.currency}}
		o.lines = append(o.lines, line)
		subtotal.Amount += line.LineTotal.Amount
	}
	if len(short) > 0 {
		return nil, &refusal{err: insufficient(short)}
	}
	o.subtotal, o.shipping = subtotal, s.shipping.For(subtotal)
	o.total = Money{Amount: subtotal.Amount + o.shipping.Amount, Currency: s.currency}
	if o.total.Amount > maxTotal {
		return nil, &refusal{err: ErrTooLarge} // no stock is held for what cannot be paid
	}
	return o, nil
}

// insufficient is ErrInsufficient naming the short lines.
func insufficient(lines []shortLine) error {
	slices.SortFunc(lines, func(a, b shortLine) int { return cmp.Compare(a.ProductID, b.ProductID) })
	return ErrInsufficient.With(map[string]any{"lines": lines})
}

// drive runs the checkout saga of o from the step it stands at to its end,
// and answers it: reserve the stock, create the payment, place the order.
// Every step is keyed by the order, so running it again — a retry of the
// request, the recovery worker, both at once — repeats nothing. A 5xx-class
// failure leaves o at its step, for a retry or the recovery worker.
func (s *Service) drive(ctx context.Context, o *Order) (*Reply, error) {
	if o.step == stepReserving {
		err := s.catalog.reserve(ctx, o.reservationID(), reserveItems(o), int(s.holdFor/time.Second))
		if errors.Is(err, errShort) {
			return s.reject(ctx, o, insufficient(shortLines(err)))
		}
		if err != nil {
			return nil, err
		}
		now := s.clock()
		var moved bool
		err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
			var err error
			moved, err = setStep(ctx, tx, o.id, stepReserving, stepReserved, now.Add(s.lease), now)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !moved { // another driver went on meanwhile
			if o, err = orderByID(ctx, s.db, o.id); err != nil {
				return nil, err
			}
			if o.status == statusFailed {
				// It found the stock short and gave up, and this hold came
				// after: the hold must not outlive the checkout.
				s.releaseLate(ctx, o)
			} else if o.step == stepReserving {
				return nil, fmt.Errorf("checkout %s: the order is %s", o.id, o.status)
			}
		} else {
			o.step, o.leaseUntil, o.updatedAt = stepReserved, now.Add(s.lease), now
		}
	}
	switch o.step {
	case stepReserved, stepPlaced:
		p, err := s.payments.create(ctx, o.id, o.customerID, o.total)
		if err != nil {
			return nil, err
		}
		return s.place(ctx, o, p)
	}
	// The checkout failed: its answer is the one its key keeps.
	rec, err := keyRecordByKey(ctx, s.db, o.customerID, o.idempotencyKey)
	if err != nil {
		return nil, err
	}
	if rec == nil || rec.status == 0 || rec.orderID != o.id {
		return nil, fmt.Errorf("checkout %s failed without an answer", o.id)
	}
	return &Reply{Status: rec.status, Body: rec.body, OrderID: o.id, Replayed: true}, nil
}

func reserveItems(o *Order) []reserveItem {
	items := make([]reserveItem, len(o.lines))
	for i, l := range o.lines {
		items[i] = reserveItem{ProductID: l.ProductID, Quantity: int64(l.Quantity)}
	}
	return items
}

// place ends the checkout of o, as its driver last knew it, with its payment
// p: the order is pending_payment until its payment window closes,
// orders.order.placed tells the cart to remove the bought lines, and the
// answer is kept under the checkout's key. The order is written without
// being read again, on the condition that it is still in checkout; when
// another driver placed it meanwhile (or o was read placed), it is read and
// answered as it stands.
func (s *Service) place(ctx context.Context, o *Order, p *Payment) (*Reply, error) {
	var reply Reply
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		cur, ok, err := s.placeAsKnown(ctx, tx, o, p)
		if err != nil {
			return err
		}
		if !ok {
			if cur, err = orderByID(ctx, tx, o.id); err != nil {
				return err
			}
		}
		if !cur.placed() {
			return fmt.Errorf("checkout %s: the order was %s meanwhile", o.id, cur.status)
		}
		body, err := json.Marshal(checkoutReply{Order: cur, Payment: p})
		if err != nil {
			return err
		}
		reply = Reply{Status: http.StatusCreated, Body: body, OrderID: o.id}
		return respondKeyRecord(ctx, tx, cur.customerID, cur.idempotencyKey, reply.Status, body)
	})
	if err != nil {
		return nil, err
	}
	return &reply, nil
}

// placeAsKnown places a copy of o, which its driver knows in checkout, and
// writes it when the order is still in checkout (updateOrder's condition);
// ok is false, and nothing written, when it is not.
func (s *Service) placeAsKnown(ctx context.Context, tx *sqldb.Tx, o *Order, p *Payment) (*Order,
	bool, error) {
	if o.status != statusCheckout {
		return nil, false, nil
	}
	cur := *o
	cur.history = slices.Clone(o.history)
	now := s.clock()
	if err := cur.Place(p.ID, now, now.Add(s.window)); err != nil {
		return nil, false, err
	}
	ok, err := s.update(ctx, tx, &cur, statusCheckout, len(o.history))
	if err != nil || !ok {
		return nil, false, err
	}
	return &cur, true, announce(ctx, tx, &cur, false)
}

// reject ends a checkout whose stock could not be held: the order is never
// placed, the cart stays as it was, and answer is kept under its key. When
// another driver took the checkout further meanwhile, its outcome is the
// answer instead.
func (s *Service) reject(ctx context.Context, o *Order, answer error) (*Reply, error) {
	status, body := problemBody(answer)
	var further *Order
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		cur, err := orderByID(ctx, tx, o.id)
		if err != nil {
			return err
		}
		if cur.status != statusCheckout || cur.step != stepReserving {
			further = cur
			return nil
		}
		if err := cur.Fail(s.clock()); err != nil {
			return err
		}
		if _, err := s.update(ctx, tx, cur, statusCheckout, len(cur.history)); err != nil {
			return err
		}
		return respondKeyRecord(ctx, tx, cur.customerID, cur.idempotencyKey, status, body)
	})
	if err != nil {
		return nil, err
	}
	if further != nil {
		return s.drive(ctx, further)
	}
	return &Reply{Status: status, Body: body, OrderID: o.id}, nil
}

// abandon gives up a checkout that could not be finished in time (the
// payment could never be created): the order is never placed, its hold is
// released, and its key forgotten unless it has an answer, so that a retry
// starts afresh.
func (s *Service) abandon(ctx context.Context, id string) error {
	return s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		o, err := orderByID(ctx, tx, id)
		if err != nil || o.status != statusCheckout {
			return err
		}
		read := o.status
		if err := o.Fail(s.clock()); err != nil {
			return err
		}
		if _, err := s.update(ctx, tx, o, read, len(o.history)); err != nil {
			return err
		}
		rec, err := keyRecordByKey(ctx, tx, o.customerID, o.idempotencyKey)
		if err != nil {
			return err
		}
		if rec != nil && rec.orderID == o.id && rec.status == 0 {
			if err := deleteKeyRecord(ctx, tx, o.customerID, o.idempotencyKey); err != nil {
				return err
			}
		}
		return effect.Record(ctx, tx, effectRelease, o.id, stockEffect{OrderID: o.id,
			ReservationID: o.reservationID()})
	})
}

// releaseLate releases the hold of a checkout that failed after another
// driver's hold was made (the failure's own release may have run before the
// hold existed). Releasing is idempotent; a failure is retried as an effect.
func (s *Service) releaseLate(ctx context.Context, o *Order) {
	err := s.catalog.transition(ctx, o.reservationID(), "release")
	if err == nil || errs.KindOf(err) == errs.NotFound {
		return
	}
	s.log.WarnContext(ctx, "checkout: releasing a late hold; retrying it as an effect", "order_id", o.id,
		"err", err)
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		return effect.Record(ctx, tx, effectRelease, o.id+":late", stockEffect{OrderID: o.id,
			ReservationID: o.reservationID()})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "checkout: a late hold stays until its expiry", "order_id", o.id, "err", err)
	}
}
