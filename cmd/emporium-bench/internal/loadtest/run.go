package loadtest

import (
	"context"
	"sync"
	"time"
)

// Config is one measured run.
type Config struct {
	// Concurrency is the number of closed-loop clients: each sends its next
	// operation when the last one is answered.
	Concurrency int
	// Warmup runs the clients unmeasured first (connections open, caches
	// fill, the runtimes settle).
	Warmup time.Duration
	// Duration is the measured time after the warm-up.
	Duration time.Duration
}

// Op is one operation of a client, such as one request or a whole checkout.
// It returns nil when the operation succeeded.
type Op func(ctx context.Context, w *Worker) error

// Worker is one closed-loop client.
type Worker struct {
	// ID numbers the clients from 0; an Op uses it to pick its own state
	// (a customer, a cart).
	ID    int
	began time.Time
}

// Restart leaves what the operation did so far out of its latency: the
// preparation of an operation (waiting for the last order to leave the cart)
// is not what is measured.
func (w *Worker) Restart() { w.began = time.Now() }

// Result is what one run measured.
type Result struct {
	// Ops counts the operations that succeeded within the measured window.
	Ops int `json:"ops"`
	// Errors counts the failed ones by cause (see Cause).
	Errors map[string]int `json:"errors,omitempty"`
	// Examples holds the first error of each cause, whole.
	Examples map[string]string `json:"error_examples,omitempty"`
	// Elapsed is the measured window.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Latencies are the successful operations' durations.
	Latencies Latencies `json:"-"`
}

// Rate is the successful operations per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// ErrorCount is the number of failed operations.
func (r *Result) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// Merge adds o's operations, errors, time and latencies to r: the rounds of
// one scenario against one target add up.
func (r *Result) Merge(o *Result) {
	r.Ops += o.Ops
	r.Elapsed += o.Elapsed
	r.Latencies.Merge(&o.Latencies)
	for cause, n := range o.Errors {
		if r.Errors == nil {
			r.Errors, r.Examples = map[string]int{}, map[string]string{}
		}
		r.Errors[cause] += n
		if _, ok := r.Examples[cause]; !ok {
			r.Examples[cause] = o.Examples[cause]
		}
	}
}

// inFlightGrace bounds how long an operation still running at the end of
// the window may take before its context is cancelled.
const inFlightGrace = 30 * time.Second

// Run runs op from cfg.Concurrency clients for the warm-up and then the
// measured duration. An operation counts when it ends within the measured
// window; one still running at its end is awaited and not counted.
func Run(ctx context.Context, cfg Config, op Op) *Result {
	conc := max(cfg.Concurrency, 1)
	start := time.Now()
	from := start.Add(cfg.Warmup)
	end := from.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(inFlightGrace))
	defer cancel()

	results := make([]Result, conc)
	var wg sync.WaitGroup
	for i := range conc {
		wg.Go(func() {
			w := &Worker{ID: i}
			res := &results[i]
			for ctx.Err() == nil {
				w.began = time.Now()
				if !w.began.Before(end) {
					return
				}
				err := op(ctx, w)
				done := time.Now()
				if done.Before(from) || done.After(end) {
					continue
				}
				if err != nil {
					if res.Errors == nil {
						res.Errors, res.Examples = map[string]int{}, map[string]string{}
					}
					cause := Cause(err)
					if res.Errors[cause]++; res.Errors[cause] == 1 {
						res.Examples[cause] = err.Error()
					}
					continue
				}
				res.Ops++
				res.Latencies.Add(done.Sub(w.began))
			}
		})
	}
	wg.Wait()
	total := &Result{Elapsed: cfg.Duration}
	for i := range results {
		results[i].Elapsed = 0
		total.Merge(&results[i])
	}
	return total
}
