package orders

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"emporium/internal/platform/effect"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Reply is the answer to a checkout: the first answer given under its
// Idempotency-Key, replayed to every repeat with the same body.
type Reply struct {
	Status   int
	Body     []byte // JSON: {order, payment}, or a problem
	OrderID  string // the order it is about, for Location
	Replayed bool   // a repeat's answer, not this request's own
}

// checkoutReply is the body of a successful checkout.
type checkoutReply struct {
	Order   *Order   `json:"order"`
	Payment *Payment `json:"payment"`
}

// errKeyTaken says that another request claimed or changed the key's record
// meanwhile: read it again.
var errKeyTaken = errors.New("the key's record changed meanwhile")

// Checkout places an order of the customer's cart, shipped to addr, once per
// Idempotency-Key: key is the customer's key and hash the canonical hash of
// the request body (requestHash).
//
// The first request under a key runs the checkout saga. A repeat with the
// same body gets the first answer when it was below 500 (Replayed); with
// another body ErrKeyReused; while the first still runs ErrInProgress (with
// a RetryAfter). A repeat after a 5xx or a crash takes the saga over where it
// stands and finishes the same order, never a second one. Answers of 500 and
// more are errors and are not kept; everything else is a Reply and is.
func (s *Service) Checkout(ctx context.Context, customerID, key, hash string,
	addr Address) (*Reply, error) {
	for range 5 {
		rec, err := keyRecordByKey(ctx, s.db, customerID, key)
		if err != nil {
			return nil, fmt.Errorf("checkout: %w", err)
		}
		var reply *Reply
		var held string // the order whose checkout this request holds, if any
		if rec == nil || s.clock().Sub(rec.createdAt) >= s.keepKeys {
			reply, held, err = s.startCheckout(ctx, customerID, key, hash, addr, rec)
		} else {
			reply, held, err = s.resumeCheckout(ctx, rec, hash)
		}
		if errors.Is(err, errKeyTaken) {
			continue
		}
		if err != nil && held != "" {
			s.letGo(ctx, customerID, key, held)
		}
		if err != nil {
			return nil, fmt.Errorf("checkout: %w", err)
		}
		return reply, nil
	}
	return nil, fmt.Errorf("checkout: %w", errs.E(errs.Unavailable, "unavailable",
		"the request collided with others under its Idempotency-Key; try again", nil))
}

// letGo releases a checkout this request held and could not finish (a 5xx
// is no answer to keep): a retry under its key may take it over at once, and
// so may the recovery worker.
func (s *Service) letGo(ctx context.Context, customerID, key, orderID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := unlockKeyRecord(ctx, s.db, customerID, key); err != nil {
		s.log.WarnContext(ctx, "checkout: releasing the key", "err", err)
	}
	if err := releaseCheckout(ctx, s.db, orderID, s.clock()); err != nil {
		s.log.WarnContext(ctx, "checkout: releasing the order's lease", "order_id", orderID, "err", err)
	}
}

// resumeCheckout answers a repeat of a key that has a record. held is the
// order whose checkout this request took over, if it did.
func (s *Service) resumeCheckout(ctx context.Context, rec *keyRecord,
	hash string) (_ *Reply, held string, _ error) {
	now := s.clock()
	switch {
	case rec.requestHash != hash:
		return nil, "", ErrKeyReused
	case rec.status != 0:
		return &Reply{Status: rec.status, Body: rec.body, OrderID: rec.orderID, Replayed: true}, "", nil
	case now.Before(rec.lockedUntil):
		e := *ErrInProgress
		e.Err = ErrInProgress
		e.RetryAfter = min(rec.lockedUntil.Sub(now), time.Second)
		return nil, "", &e
	}
	// The first request failed with a 5xx or stopped midway: take it over.
	var o *Order
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		ok, err := lockKeyRecord(ctx, tx, rec.customerID, rec.key, now.Add(s.lease), now)
		if err != nil {
			return err
		}
		if !ok {
			return errKeyTaken
		}
		o, err = orderByID(ctx, tx, rec.orderID)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	reply, err := s.drive(ctx, o)
	return reply, o.id, err
}

// startCheckout runs a checkout under a key without a record (or with an
// expired one, old). held is the order whose checkout this request holds,
// once it does.
func (s *Service) startCheckout(ctx context.Context, customerID, key, hash string, addr Address,
	old *keyRecord) (_ *Reply, held string, _ error) {
	rec := &keyRecord{customerID: customerID, key: key, requestHash: hash,
		orderID: uuid.Must(uuid.NewV7()).String(), createdAt: s.clock()}
	items, err := s.cart.items(ctx, customerID)
	if err != nil {
		return nil, "", err
	}
	if len(items) == 0 {
		return s.answerFirst(ctx, rec, old, ErrCartEmpty)
	}
	o, err := s.newOrder(ctx, rec, items, addr)
	if refused := (*refusal)(nil); errors.As(err, &refused) {
		return s.answerFirst(ctx, rec, old, refused.err)
	}
	if err != nil {
		return nil, "", err
	}
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if old != nil {
			if err := deleteKeyRecord(ctx, tx, customerID, key); err != nil {
				return err
			}
		}
		rec.lockedUntil = o.leaseUntil
		if err := insertKeyRecord(ctx, tx, rec); err != nil {
			return err
		}
		if o.number, err = nextNumber(ctx, tx); err != nil {
			return err
		}
		return insertOrder(ctx, tx, o)
	})
	if sqldb.IsUnique(err, "") {
		return nil, "", errKeyTaken // a concurrent request claimed the key first
	}
	if err != nil {
		return nil, "", err
	}
	reply, err := s.drive(ctx, o)
	return reply, o.id, err
}

// answerFirst keeps err's answer as the first under rec's key (replacing the
// expired record old, if any) and returns it.
func (s *Service) answerFirst(ctx context.Context, rec, old *keyRecord,
	answer error) (*Reply, string, error) {
	rec.status, rec.body = problemBody(answer)
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if old != nil {
			if err := deleteKeyRecord(ctx, tx, rec.customerID, rec.key); err != nil {
				return err
			}
		}
		return insertKeyRecord(ctx, tx, rec)
	})
	if sqldb.IsUnique(err, "") {
		return nil, "", errKeyTaken
	}
	if err != nil {
		return nil, "", err
	}
	return &Reply{Status: rec.status, Body: rec.body}, "", nil
}

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
			if o.step == stepReserving {
				return nil, fmt.Errorf("checkout %s: the order is %s", o.id, o.status)
			}
		} else {
			o.step = stepReserved
		}
	}
	switch o.step {
	case stepReserved, stepPlaced:
		p, err := s.payments.create(ctx, o.id, o.customerID, o.total)
		if err != nil {
			return nil, err
		}
		return s.place(ctx, o.id, p)
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

// place ends the checkout of order id with its payment p: the order is
// pending_payment until its payment window closes, orders.order.placed
// tells the cart to remove the bought lines, and the answer is kept under
// the checkout's key. An order placed already (by another driver) is
// answered as it stands.
func (s *Service) place(ctx context.Context, id string, p *Payment) (*Reply, error) {
	var reply Reply
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		o, err := orderByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.status == statusCheckout {
			now := s.clock()
			read, before := o.status, len(o.history)
			if err := o.Place(p.ID, now, now.Add(s.window)); err != nil {
				return err
			}
			if err := s.save(ctx, tx, o, read, before, false); err != nil {
				return err
			}
		}
		if !o.placed() {
			return fmt.Errorf("checkout %s: the order was %s meanwhile", id, o.status)
		}
		body, err := json.Marshal(checkoutReply{Order: o, Payment: p})
		if err != nil {
			return err
		}
		reply = Reply{Status: http.StatusCreated, Body: body, OrderID: id}
		return respondKeyRecord(ctx, tx, o.customerID, o.idempotencyKey, reply.Status, body)
	})
	if err != nil {
		return nil, err
	}
	return &reply, nil
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
		if _, err := updateOrder(ctx, tx, cur, statusCheckout, len(cur.history)); err != nil {
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
		if _, err := updateOrder(ctx, tx, o, read, len(o.history)); err != nil {
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

// problemBody is the status and problem document that answer err.
func problemBody(err error) (int, []byte) {
	p := web.ProblemFor(err)
	body, merr := json.Marshal(p)
	if merr != nil {
		panic("orders: problem: " + merr.Error()) // plain values
	}
	return p.Status, body
}
