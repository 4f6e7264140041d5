package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"emporium/internal/platform/periodic"
	"emporium/internal/platform/sqldb"
)

// sweepBatch is how many expired holds the sweeper reads at a time.
const sweepBatch = 100

// SweepExpired releases the holds whose time is up, and reports how many. It
// walks every hold that expired before it started, a page at a time in
// expiry order. A hold that cannot be released is logged and skipped, and
// tried again by the next sweep: one broken row must not keep the others
// held. Only a database that is down (or ctx ending) stops the walk, with an
// error. Several replicas may sweep at once: each release is a conditional
// transition, so a hold is released once, and a commit that got there first
// wins.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	now := s.clock()
	released, skipped := 0, 0
	var after *expiredHold
	for {
		holds, err := expiredHolds(ctx, s.db, now, after, s.sweepBatch)
		if err != nil {
			return released, fmt.Errorf("sweep: %w", err)
		}
		for _, h := range holds {
			r, err := s.release(ctx, h.id, "expired")
			switch {
			case errors.Is(err, ErrTransition):
				// Committed meanwhile.
			case err != nil && (ctx.Err() != nil || errors.Is(err, sqldb.ErrUnavailable)):
				return released, fmt.Errorf("sweep: %w", err)
			case err != nil:
				skipped++
				s.log.ErrorContext(ctx, "cannot release an expired reservation; the next sweep tries again",
					slog.String("reservation_id", h.id), slog.String("error", err.Error()))
			case r.Status == Released:
				released++
			}
		}
		if len(holds) < s.sweepBatch {
			break
		}
		after = &holds[len(holds)-1]
	}
	if released > 0 || skipped > 0 {
		s.log.InfoContext(ctx, "released expired reservations", slog.Int("count", released),
			slog.Int("skipped", skipped))
	}
	return released, nil
}

// sweeper runs SweepExpired every interval until ctx ends. It returns the
// error of a sweep that could not reach the database, for the runtime to
// restart it after a pause.
func (s *Service) sweeper(interval time.Duration) func(context.Context) error {
	return periodic.Every(interval, func(ctx context.Context) error {
		if _, err := s.SweepExpired(ctx); err != nil {
			return err
		}
		return s.fillLinkKeys(ctx)
	})
}

// fillLinkKeys gives the category links that lack their product's sort keys
// the keys (migration 5). Only a replica of the version before it writes such
// links — during a rolling upgrade, after the first new replica migrated —
// and a leaf category's listing would not show their products until their
// next write. The partial index on the links without keys makes the look-up
// free when there are none.
func (s *Service) fillLinkKeys(ctx context.Context) error {
	res, err := s.db.ExecContext(ctx, `UPDATE product_categories
		SET (status, created_at, price_amount, sort_name) = (SELECT p.status, p.created_at, p.price_amount,
			p.sort_name FROM products p WHERE p.id = product_categories.product_id)
		WHERE status IS NULL`)
	if err != nil {
		return fmt.Errorf("fill the category links' sort keys: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		s.log.InfoContext(ctx, "filled in the sort keys of category links written without them",
			slog.Int64("links", n))
	}
	return nil
}
