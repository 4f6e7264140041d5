// Package chaos is Emporium's fault-injection suite, after Jepsen: a
// workload of customers and an admin runs against the production topology
// (every service as its own process, deploy/local) while a seeded schedule
// of faults kills, restarts, partitions and slows its parts; then, once
// the faults stop and the shop has settled, a checker reads every
// service's database and proves that nothing was oversold, charged twice
// or lost. cmd/emporium-chaos runs it; `make chaos` runs a few seeds.
package chaos

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Options are a run's settings.
type Options struct {
	// Dir keeps the run's logs; Root is the repository; Bin, when set,
	// holds the services built already.
	Dir, Root, Bin, PostgresURL string
	Seed                        uint64
	// Duration is how long the workload runs with faults.
	Duration time.Duration
	// Settle bounds the wait for the shop to settle after the faults stop.
	Settle    time.Duration
	Customers int
	// PaymentFaults is the sandbox's PAYMENTS_SANDBOX_FAULTS.
	PaymentFaults string
	// PaymentWindow is the orders' EMPORIUM_PAYMENT_WINDOW (20s when zero):
	// a short one makes payments race the cancellation of unpaid orders.
	PaymentWindow time.Duration
	// NoFaults runs the workload alone (the checker's own tests).
	NoFaults bool
	// Keep keeps the run's databases.
	Keep bool
	// Out receives the live summary and the verdict.
	Out io.Writer
}

// Report is a run's outcome.
type Report struct {
	Violations []Violation
	Requests   int
	Faults     int
	Orders     int
}

// Run starts a cluster, runs the workload and the faults for
// opts.Duration, waits for the shop to settle (at most opts.Settle) and
// checks it. An error is a run that could not be carried out; violations
// are in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	say := func(format string, args ...any) {
		fmt.Fprintf(opts.Out, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
	}
	say("seed %d: %s of faults and %d customers, then at most %s to settle", opts.Seed, opts.Duration,
		opts.Customers, opts.Settle)
	cluster, err := StartCluster(ctx, ClusterConfig{Dir: opts.Dir, Root: opts.Root, Bin: opts.Bin,
		PostgresURL: opts.PostgresURL, Keep: opts.Keep, PaymentFaults: opts.PaymentFaults, PaymentWindow: opts.PaymentWindow})
	if err != nil {
		return nil, err
	}
	defer cluster.Stop(context.WithoutCancel(ctx))
	say("cluster up: gateway %s, %d proxies, logs in %s/logs", cluster.URL(), len(cluster.Proxies()), opts.Dir)

	history := &History{}
	w := &Workload{Base: cluster.URL(), Customers: opts.Customers, Seed: opts.Seed, History: history,
		AdminEmail: cluster.AdminEmail, AdminPassword: cluster.AdminPassword}
	f := &Faults{Cluster: cluster, Seed: opts.Seed, Log: func(format string, args ...any) {
		say("fault: "+format, args...)
	}}
	stop, cancelStop := context.WithTimeout(ctx, opts.Duration)
	defer cancelStop()
	// What is under way at the end is finished within the payment window.
	hard, cancelHard := context.WithTimeout(ctx, opts.Duration+20*time.Second)
	defer cancelHard()

	var wg sync.WaitGroup
	var workErr, faultErr error
	wg.Go(func() { workErr = w.Run(stop, hard) })
	if !opts.NoFaults {
		wg.Go(func() { faultErr = f.Run(stop) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			say("%s; faults %d", &w.Stats, f.Count.Load())
		}
	}
	if workErr != nil || faultErr != nil {
		return nil, fmt.Errorf("workload: %v; faults: %v", workErr, faultErr)
	}
	say("workload done: %s; faults %d", &w.Stats, f.Count.Load())

	violations, err := settle(ctx, cluster, history, opts.Settle, say)
	if err != nil {
		return nil, err
	}
	return &Report{Violations: violations, Requests: len(history.Ops()), Faults: int(f.Count.Load()),
		Orders: int(w.Stats.Placed.Load())}, nil
}

// settle checks the shop every few seconds until it passes or timeout
// passes, and returns the last check's violations: the services finish
// what the faults interrupted (sagas, reconciliation, outboxes) on their
// own, so a violation only counts once they had the time to.
func settle(ctx context.Context, c *Cluster, h *History, timeout time.Duration,
	say func(string, ...any)) ([]Violation, error) {
	deadline := time.Now().Add(timeout)
	last := -1
	for {
		snap, err := ReadSnapshot(ctx, c.Databases)
		if err != nil {
			return nil, err
		}
		violations := Check(snap, h.Placed())
		if len(violations) == 0 || time.Now().After(deadline) {
			say("checked %s", snap.Summary())
			return violations, nil
		}
		if len(violations) != last {
			say("settling: %d violations so far, e.g. %s", len(violations), violations[0])
			last = len(violations)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}
