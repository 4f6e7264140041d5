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
		_, err := s.SweepExpired(ctx)
		return err
	})
}
