// Package backoff is the one exponential backoff every retry loop in
// Emporium uses: the outbox relay, the bus's reconnects, the HTTP client's
// retries, SQL transaction retries and restarted workers.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: the ceiling of the wait before retry n
// (n ≥ 1) is Initial·2ⁿ⁻¹, capped at Max; the wait is drawn uniformly from the
// top Jitter fraction below that ceiling, so clients that failed together do
// not retry together. Jitter 0 waits exactly the ceiling, 0.2 between 80% and
// 100% of it, and 1 anywhere from zero to it ("full jitter").
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// Ceiling is the longest wait before retry n: Initial doubled n-1 times,
// capped at Max. n below 1 counts as 1.
func (p Policy) Ceiling(n int) time.Duration {
	d := max(p.Initial, 0)
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	if p.Max > 0 {
		d = min(d, p.Max)
	}
	return d
}

// Delay is the wait before retry n: Ceiling(n) less a random part of up to
// Jitter of it.
func (p Policy) Delay(n int) time.Duration {
	return Jittered(p.Ceiling(n), p.Jitter)
}

// Jittered returns d less a uniformly random part of up to fraction of it
// (fraction is clamped to [0, 1]).
func Jittered(d time.Duration, fraction float64) time.Duration {
	fraction = min(max(fraction, 0), 1)
	spread := time.Duration(float64(d) * fraction)
	if d <= 0 || spread <= 0 {
		return max(d, 0)
	}
	return d - rand.N(spread+1)
}

// Sleep waits d, or until ctx ends, and reports whether ctx is still alive.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
