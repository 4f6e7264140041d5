// Package loadtest is the engine of emporium-bench: closed-loop clients on
// keep-alive connections, a fixed concurrency for a fixed time after an
// unmeasured warm-up, latencies kept whole for exact percentiles, and
// failures counted by cause.
package loadtest

import (
	"math"
	"slices"
	"time"
)

// Latencies is a set of measured durations. Every sample is kept, so its
// percentiles are exact (nearest rank), not estimates from buckets: a run of
// a few hundred thousand requests costs a few megabytes.
type Latencies struct {
	samples []time.Duration
	sorted  bool
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.samples = append(l.samples, d)
	l.sorted = false
}

// Merge adds every sample of o.
func (l *Latencies) Merge(o *Latencies) {
	l.samples = append(l.samples, o.samples...)
	l.sorted = false
}

// Len is the number of samples.
func (l *Latencies) Len() int { return len(l.samples) }

// Quantile returns the smallest sample at or above the q-th fraction of the
// samples (nearest rank: q = 0.5 is the median, 0.99 the 99th percentile,
// 1 the largest); 0 when there are none.
func (l *Latencies) Quantile(q float64) time.Duration {
	n := len(l.samples)
	if n == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.samples)
		l.sorted = true
	}
	rank := int(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	return l.samples[rank-1]
}

// Max is the largest sample.
func (l *Latencies) Max() time.Duration { return l.Quantile(1) }

// Summary is what a report shows of a set of latencies.
type Summary struct {
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Summary returns the 50th, 90th and 99th percentiles and the largest sample.
func (l *Latencies) Summary() Summary {
	return Summary{P50: l.Quantile(0.5), P90: l.Quantile(0.9), P99: l.Quantile(0.99), Max: l.Max()}
}
