// Command emporium-chaos runs Emporium's fault-injection suite (package
// internal/chaos): the production topology as processes, a workload of
// customers and an admin, a seeded schedule of faults for -duration, then
// the checker over every service's database. It prints a live summary and
// the verdict last, and exits 1 on any violation. Run it from the
// repository (it builds the services); it needs PostgreSQL
// (EMPORIUM_TEST_POSTGRES_URL), nats-server, redis-server and nginx.
//
//	emporium-chaos -seed 7 -duration 45s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"emporium/cmd/emporium-chaos/internal/chaos"
	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
)

// Config is the command's environment.
type Config struct {
	PostgresURL string `env:"EMPORIUM_TEST_POSTGRES_URL" default:"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" secret:"url"`
}

func main() {
	ctx, stop := app.SignalContext(context.Background())
	defer stop()
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opts := chaos.Options{PostgresURL: cfg.PostgresURL, Out: os.Stdout}
	flag.Uint64Var(&opts.Seed, "seed", uint64(time.Now().UnixNano()%1e6), "the fault schedule's and the workload's seed")
	flag.DurationVar(&opts.Duration, "duration", 45*time.Second, "how long the workload runs with faults")
	flag.DurationVar(&opts.Settle, "settle", 90*time.Second, "the longest wait for the shop to settle afterwards")
	flag.IntVar(&opts.Customers, "customers", 6, "customers at once")
	flag.StringVar(&opts.PaymentFaults, "payment-faults", "fail=0.05,timeout=0.05,drop=0.1",
		"the payment sandbox's faults (PAYMENTS_SANDBOX_FAULTS)")
	flag.DurationVar(&opts.PaymentWindow, "payment-window", 20*time.Second,
		"the orders' payment window: a short one makes payments race the cancellation of unpaid orders")
	flag.BoolVar(&opts.Keep, "keep", false, "keep the run's databases")
	flag.StringVar(&opts.Bin, "bin", "", "the services' binaries, built already (default: build them)")
	flag.StringVar(&opts.Dir, "dir", "", "the run's directory: binaries, logs (default: a new temporary one)")
	flag.Parse()
	os.Exit(run(ctx, opts))
}

func run(ctx context.Context, opts chaos.Options) int {
	var err error
	if opts.Root, err = os.Getwd(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if opts.Dir == "" {
		if opts.Dir, err = os.MkdirTemp("", "emporium-chaos-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	// The replicas run in directories of their own: absolute paths.
	for _, path := range []*string{&opts.Dir, &opts.Bin} {
		if *path == "" {
			continue
		}
		if *path, err = filepath.Abs(*path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	report, err := chaos.Run(ctx, opts)
	if err != nil {
		fmt.Printf("chaos seed %d: the run failed: %v (logs in %s/logs)\n", opts.Seed, err, opts.Dir)
		return 2
	}
	for _, v := range report.Violations {
		fmt.Println("VIOLATION", v)
	}
	verdict := "PASS"
	if len(report.Violations) > 0 {
		verdict = fmt.Sprintf("FAIL (%d violations; logs in %s/logs)", len(report.Violations), opts.Dir)
	}
	fmt.Printf("chaos seed %d, %s: %d requests, %d orders, %d faults: %s\n", opts.Seed, opts.Duration,
		report.Requests, report.Orders, report.Faults, verdict)
	if len(report.Violations) > 0 {
		return 1
	}
	return 0
}
