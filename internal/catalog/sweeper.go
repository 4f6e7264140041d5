package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// sweepBatch is how many expired holds one sweep releases at most.
const sweepBatch = 100

// SweepExpired releases holds whose time is up. Several replicas may sweep at
// once: each release is a conditional transition, so a hold is released once,
// and a commit that got there first wins.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	ids, err := expiredHolds(ctx, s.db, s.clock(), sweepBatch)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	released := 0
	for _, id := range ids {
		r, err := s.release(ctx, id, "expired")
		switch {
		case errors.Is(err, ErrTransition):
			continue // committed or released meanwhile
		case err != nil:
			return released, err
		case r.Status == Released:
			released++
		}
	}
	if released > 0 {
		s.log.InfoContext(ctx, "released expired reservations", slog.Int("count", released))
	}
	return released, nil
}

// sweeper runs SweepExpired every interval until ctx ends.
func (s *Service) sweeper(interval time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			for {
				n, err := s.SweepExpired(ctx)
				if err != nil {
					return err
				}
				if n < sweepBatch {
					break
				}
			}
		}
	}
}
