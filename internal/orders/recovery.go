package orders

import (
	"context"
	"time"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/sqldb"
)

// abandonAfter is how long a checkout is driven before it is given up. The
// reservation outlasts the payment window by holdGrace, more than this, so an
// order placed late still has its stock held for its whole window.
const abandonAfter = 10 * time.Minute

// recoveryBatch is how many stalled checkouts the recovery worker takes at a time.
const recoveryBatch = 20

// recovery drives forward every checkout that its request left unfinished —
// the process stopped midway, or a peer failed — once the checkout's lease
// has run out: the request that held it is gone, or slower than any request
// may be. It is safe with several replicas: a checkout is taken by the one
// conditional update that renews its lease, and the saga's steps are keyed
// by the order, so two drivers of one checkout repeat nothing.
//
// A checkout is driven until its order is placed (the stock reserved, the
// payment created) or refused (short stock). One that cannot be finished
// within abandonAfter is given up: its hold is released and its key
// forgotten, and the customer, who never had an answer, may check out again.
func (s *Service) recovery(ctx context.Context) error {
	for {
		s.recoverDue(ctx)
		if !backoff.Sleep(ctx, s.sweepEvery) {
			return nil
		}
	}
}

// recoverDue drives the checkouts whose lease ran out, one batch at a time
// until none is left.
func (s *Service) recoverDue(ctx context.Context) {
	for ctx.Err() == nil {
		now := s.clock()
		due, err := dueCheckouts(ctx, s.db, now, recoveryBatch)
		if err != nil {
			s.log.WarnContext(ctx, "checkout recovery: looking for stalled checkouts", "err", err)
			return
		}
		progressed := false
		for _, id := range due {
			if s.recoverOne(ctx, id) {
				progressed = true
			}
		}
		if len(due) < recoveryBatch || !progressed {
			return
		}
	}
}

// recoverOne takes the checkout id's lease and drives it, and reports
// whether the checkout ended (placed, refused or given up).
func (s *Service) recoverOne(ctx context.Context, id string) bool {
	now := s.clock()
	claimed, err := claimCheckout(ctx, s.db, id, now.Add(s.lease), now)
	if err != nil || !claimed {
		return false
	}
	o, err := orderByID(ctx, s.db, id)
	if err != nil {
		s.log.WarnContext(ctx, "checkout recovery: reading the order", "order_id", id, "err", err)
		return false
	}
	log := s.log.With("order_id", id, "step", o.step)
	if now.Sub(o.createdAt) > abandonAfter {
		if err := s.abandon(ctx, id); err != nil {
			log.WarnContext(ctx, "checkout recovery: giving the checkout up", "err", err)
			return false
		}
		log.WarnContext(ctx, "checkout recovery: gave up a checkout that could not be finished "+
			"in time; its hold is released", "after", abandonAfter)
		return true
	}
	reply, err := s.drive(ctx, o)
	if err != nil {
		log.WarnContext(ctx, "checkout recovery: the checkout is still unfinished; will retry "+
			"after its lease", "err", err, "retry_in", s.lease)
		return false
	}
	log.InfoContext(ctx, "checkout recovery: finished a stalled checkout", "status", reply.Status)
	return true
}

// expiry cancels every order still unpaid when its payment window closes:
// its payment is cancelled and its hold released (effects). A payment that
// succeeds at the window's edge, after the order was cancelled, is refunded
// (handlePayment). Safe with several replicas: each order is cancelled in
// one transaction that rereads it.
func (s *Service) expiry(ctx context.Context) error {
	for {
		s.expireDue(ctx)
		if !backoff.Sleep(ctx, s.sweepEvery) {
			return nil
		}
	}
}

// expiryBatch is how many overdue orders the expiry worker reads at a time.
const expiryBatch = 100

func (s *Service) expireDue(ctx context.Context) {
	for ctx.Err() == nil {
		due, err := overdueOrders(ctx, s.db, s.clock(), expiryBatch)
		if err != nil {
			s.log.WarnContext(ctx, "payment window: looking for overdue orders", "err", err)
			return
		}
		expired := 0
		for _, id := range due {
			if err := s.expire(ctx, id); err != nil {
				// The others go on; this one is tried again next round.
				s.log.WarnContext(ctx, "payment window: cancelling an overdue order", "order_id", id,
					"err", err)
				continue
			}
			expired++
		}
		if len(due) < expiryBatch || expired == 0 {
			return
		}
	}
}

// expire cancels order id if it is still unpaid past its payment window.
func (s *Service) expire(ctx context.Context, id string) error {
	return s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		o, err := orderByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.status != StatusPendingPayment || !s.clock().After(o.paymentDueAt) {
			return nil // paid or cancelled meanwhile
		}
		return s.cancel(ctx, tx, o, ReasonWindowClosed)
	})
}

// janitor deletes Idempotency-Key records older than keepKeys, every hour.
func (s *Service) janitor(ctx context.Context) error {
	for {
		for ctx.Err() == nil {
			n, err := deleteExpiredKeys(ctx, s.db, s.clock().Add(-s.keepKeys))
			if err != nil {
				s.log.WarnContext(ctx, "idempotency janitor", "err", err)
				break
			}
			if n < cleanupChunk {
				break
			}
		}
		if !backoff.Sleep(ctx, time.Hour) {
			return nil
		}
	}
}
