package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

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
// the recovery worker a second later (not at once: what failed was most
// likely a peer, which a retry at once would only find down again).
func (s *Service) letGo(ctx context.Context, customerID, key, orderID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := unlockKeyRecord(ctx, s.db, customerID, key); err != nil {
		s.log.WarnContext(ctx, "checkout: releasing the key", "err", err)
	}
	if err := releaseCheckout(ctx, s.db, orderID, s.clock().Add(time.Second)); err != nil {
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

// problemBody is the status and problem document that answer err.
func problemBody(err error) (int, []byte) {
	p := web.ProblemFor(err)
	body, merr := json.Marshal(p)
	if merr != nil {
		panic("orders: problem: " + merr.Error()) // plain values
	}
	return p.Status, body
}
