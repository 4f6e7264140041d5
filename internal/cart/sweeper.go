package cart

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"emporium/internal/platform/periodic"
)

// sweepBatch is how many expired guest carts one statement deletes, so
// that SQLite's one writer is never held for long.
const sweepBatch = 500

// SweepGuests deletes the guest carts whose last change is older than the
// guest cart lifetime, and reports how many. A cart changed while the sweep
// runs is kept (see deleteExpiredGuests); reads already treat an expired
// cart as gone, so the sweep only frees the space.
func (s *Service) SweepGuests(ctx context.Context) (int64, error) {
	cutoff := s.guestSince()
	var total int64
	for {
		n, err := deleteExpiredGuests(ctx, s.db, cutoff, sweepBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("sweep guest carts: %w", err)
		}
		if n < sweepBatch {
			break
		}
	}
	if total > 0 {
		s.log.InfoContext(ctx, "deleted expired guest carts", slog.Int64("count", total))
	}
	return total, nil
}

// sweeper runs SweepGuests every interval until ctx ends. It returns the
// error of a sweep that failed, for the runtime to restart it after a pause.
func (s *Service) sweeper(interval time.Duration) func(context.Context) error {
	return periodic.Every(interval, func(ctx context.Context) error {
		_, err := s.SweepGuests(ctx)
		return err
	})
}
