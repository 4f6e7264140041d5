package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
)

// Reservation statuses: a hold ends committed (the units are sold) or
// released (by the caller, or by the sweeper when it expires); a committed
// reservation may be restocked (the order was cancelled after payment).
const (
	Held      = "held"
	Committed = "committed"
	Released  = "released"
	Restocked = "restocked"
)

// Reservation is a hold on stock for an order.
type Reservation struct {
	ID        string    `json:"reservation_id"`
	Status    string    `json:"status"`
	Items     []Line    `json:"items"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var errUnknownProduct = errs.Invalidf("items", "names a product that does not exist")

// Reserve holds every line's quantity or none, for ttl. Repeating a
// reservation id with the same lines returns the reservation it made, as it
// now stands (created is false then); with other lines it is ErrMismatch.
// Lines are the same when they name the same products in the same
// quantities, in any order (a request names each product once); the ttl is
// not compared: the first one stands.
//
// Lines are taken in product id order, so concurrent multi-line reservations
// wait for each other instead of deadlocking; each hold is one conditional
// update, so no interleaving can oversell.
func (s *Service) Reserve(ctx context.Context, in ReserveRequest) (r *Reservation, created bool, err error) {
	items := slices.Clone(in.Items)
	slices.SortFunc(items, func(a, b Line) int { return cmp.Compare(a.ProductID, b.ProductID) })
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		created = false
		if r, err = reservationByID(ctx, tx, in.ReservationID); err == nil {
			return r.repeatedWith(items) // a repeat: the first outcome stands
		} else if !errors.Is(err, ErrReservationGone) {
			return err
		}
		now := s.clock()
		r = &Reservation{ID: in.ReservationID, Status: Held, Items: items, CreatedAt: now, UpdatedAt: now,
			ExpiresAt: now.Add(time.Duration(in.TTLSeconds) * time.Second)}
		// Claim the id first: a concurrent duplicate waits here, then fails and rereads.
		if err := insertReservation(ctx, tx, r); err != nil {
			return err
		}
		if err := s.hold(ctx, tx, r, now); err != nil {
			return err
		}
		created = true
		return nil
	})
	if sqldb.IsUnique(err, "") {
		// A concurrent repeat claimed the id first and has committed.
		if r, err = s.Reservation(ctx, in.ReservationID); err == nil {
			err = r.repeatedWith(items)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("reserve %s: %w", in.ReservationID, err)
	}
	return r, created, nil
}

// repeatedWith checks a repeat of r's reservation id that asks for items:
// ErrMismatch unless they are r's lines, in any order.
func (r *Reservation) repeatedWith(items []Line) error {
	if !sameLines(r.Items, items) {
		return ErrMismatch
	}
	return nil
}

// sameLines reports whether two sets of lines name the same products in the
// same quantities, in any order. Neither names a product twice.
func sameLines(a, b []Line) bool {
	if len(a) != len(b) {
		return false
	}
	qty := make(map[string]int64, len(a))
	for _, l := range a {
		qty[l.ProductID] = l.Quantity
	}
	for _, l := range b {
		if q, ok := qty[l.ProductID]; !ok || q != l.Quantity {
			return false
		}
	}
	return true
}

// hold reserves every line of r, or reports every short one.
func (s *Service) hold(ctx context.Context, tx *sqldb.Tx, r *Reservation, now time.Time) error {
	statuses, err := productStatuses(ctx, tx, r.Items)
	if err != nil {
		return err
	}
	var short []ShortLine
	for _, l := range r.Items {
		status, known := statuses[l.ProductID]
		if !known {
			return errUnknownProduct
		}
		if status != StatusActive {
			short = append(short, ShortLine{ProductID: l.ProductID, Requested: l.Quantity, Available: 0})
			continue
		}
		if len(short) > 0 {
			// Already failing: only find out what else is short.
			inv, err := inventoryOf(ctx, tx, l.ProductID)
			if err != nil {
				return err
			}
			if inv.Available < l.Quantity {
				short = append(short, ShortLine{ProductID: l.ProductID, Requested: l.Quantity, Available: max(inv.Available, 0)})
			}
			continue
		}
		inv, err := changeStockRechecked(ctx, tx, stockChange{productID: l.ProductID,
			reserved: l.Quantity, reason: "reserved", reservationID: r.ID, at: now})
		if errors.Is(err, errShort) {
			short = append(short, ShortLine{ProductID: l.ProductID, Requested: l.Quantity, Available: inv.Available})
			continue
		}
		if err != nil {
			return err
		}
		s.stockChangedOnCommit(tx, l.ProductID)
		if err := insertReservationLine(ctx, tx, r.ID, l); err != nil {
			return err
		}
	}
	if len(short) > 0 {
		return insufficient(short) // the transaction rolls every hold back
	}
	return nil
}

// Commit sells a held reservation: its units leave on_hand and reserved.
// The hold's time is firm: after expires_at the commit is ErrExpired, whether
// or not the sweeper has released the hold yet (a released one, too). A
// reservation committed in time stays committed, and committing it again is
// no error, expired or not.
func (s *Service) Commit(ctx context.Context, id string) (*Reservation, error) {
	return s.transition(ctx, id, Held, Committed, true, func(l Line) stockChange {
		return stockChange{onHand: -l.Quantity, reserved: -l.Quantity, reason: "committed"}
	})
}

// Release ends a held reservation: its units become available again.
func (s *Service) Release(ctx context.Context, id string) (*Reservation, error) {
	return s.release(ctx, id, "released")
}

func (s *Service) release(ctx context.Context, id, reason string) (*Reservation, error) {
	return s.transition(ctx, id, Held, Released, false, func(l Line) stockChange {
		return stockChange{reserved: -l.Quantity, reason: reason}
	})
}

// Restock returns a committed reservation's units to on_hand.
func (s *Service) Restock(ctx context.Context, id string) (*Reservation, error) {
	return s.transition(ctx, id, Committed, Restocked, false, func(l Line) stockChange {
		return stockChange{onHand: l.Quantity, reason: "restocked"}
	})
}

// transition moves a reservation from one status to the next and applies
// change to each line's stock, in one transaction. The status update is
// conditional, so of two concurrent transitions (a commit and the sweeper's
// release) exactly one happens. Repeating a transition that happened returns
// the reservation; any other status is ErrTransition. A firm transition is
// refused after the hold's expires_at (ErrExpired) unless it happened before;
// at expires_at itself it is still in time, as the sweeper only releases
// holds whose expires_at has passed.
func (s *Service) transition(ctx context.Context, id, from, to string, firm bool,
	change func(Line) stockChange) (*Reservation, error) {
	var r *Reservation
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		now := s.clock()
		moved, err := setReservationStatus(ctx, tx, id, from, to, now)
		if err != nil {
			return err
		}
		if r, err = reservationByID(ctx, tx, id); err != nil {
			return err
		}
		expired := firm && now.After(r.ExpiresAt)
		switch {
		case !moved && r.Status == to:
			return nil // done before
		case expired && (moved || r.Status == Held || r.Status == Released):
			return ErrExpired // rolls the status back when moved
		case !moved:
			return ErrTransition
		}
		for _, l := range r.Items {
			c := change(l)
			c.productID, c.reservationID, c.at = l.ProductID, id, now
			if _, err := changeStock(ctx, tx, c); err != nil {
				return fmt.Errorf("%s %s: %w", to, l.ProductID, err) // errShort here means a broken invariant
			}
			s.stockChangedOnCommit(tx, l.ProductID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reservation %s: %w", id, err)
	}
	return r, nil
}

// Reservation returns a reservation.
func (s *Service) Reservation(ctx context.Context, id string) (*Reservation, error) {
	r, err := reservationByID(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("reservation %s: %w", id, err)
	}
	return r, nil
}
