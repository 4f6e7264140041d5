// Command emporium-bench measures Emporium under load against a bare net/http
// JSON server on the same machine, in the same run: closed-loop clients on
// keep-alive connections, a fixed concurrency and duration after an
// unmeasured warm-up, rounds alternating the bare server and the shop
// (A B A B), each scenario's rate, latency percentiles, errors by cause and
// its ratio to the bare server.
//
//	emporium-bench                         start a fresh all-in-one (demo data) and measure it
//	emporium-bench -url http://host:8080   measure a running shop (an admin's credentials needed)
//	emporium-bench -footprint              only start the all-in-one: time to ready, idle memory
//
// See -h for the flags; `make load` runs it with the defaults.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	url           string
	bin           string
	adminEmail    string
	adminPassword string
	concurrency   int
	duration      time.Duration
	warmup        time.Duration
	rounds        int
	scenarios     []string
	bare          bool
	json          bool
	footprint     bool
	settle        time.Duration
	serveBare     string // internal: serve the bare server on this address
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "emporium-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.serveBare != "" {
		err = serveBare(ctx, o.serveBare)
	} else {
		err = run(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "emporium-bench:", err)
		os.Exit(1)
	}
}

const allScenarios = "product,list,cart-read,cart,checkout,login"

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("emporium-bench", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "", "measure the shop at this base URL instead of starting an all-in-one")
	fs.StringVar(&o.bin, "bin", "", "the all-in-one binary to start (built from ./cmd/emporium when empty)")
	fs.StringVar(&o.adminEmail, "admin-email", os.Getenv("EMPORIUM_ADMIN_EMAIL"),
		"with -url: an admin's email, to give the checkout's product stock")
	fs.StringVar(&o.adminPassword, "admin-password", os.Getenv("EMPORIUM_ADMIN_PASSWORD"),
		"with -url: that admin's password")
	fs.IntVar(&o.concurrency, "c", 64, "closed-loop clients (connections)")
	fs.DurationVar(&o.duration, "d", 5*time.Second, "measured duration of each run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	fs.IntVar(&o.rounds, "rounds", 2, "runs of each scenario against each target, alternating")
	list := fs.String("scenarios", allScenarios, "comma-separated scenarios")
	fs.BoolVar(&o.bare, "bare", true, "measure the bare net/http server too, for the ratios")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.footprint, "footprint", false, "only start the all-in-one and report its footprint")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "how long after ready the idle memory is read")
	fs.StringVar(&o.serveBare, "serve-bare", "", "serve the bare server on this address (used by the tool itself)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(*list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if _, ok := scenarios[s]; !ok {
			return o, fmt.Errorf("unknown scenario %q (have %s)", s, allScenarios)
		}
		o.scenarios = append(o.scenarios, s)
	}
	switch {
	case o.concurrency < 1 || o.rounds < 1 || o.duration <= 0 || o.warmup < 0:
		return o, fmt.Errorf("-c and -rounds must be at least 1, -d positive, -warmup not negative")
	case o.url != "" && o.footprint:
		return o, fmt.Errorf("-footprint starts its own all-in-one; drop -url")
	}
	return o, nil
}
