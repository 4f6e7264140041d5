package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"

	"emporium/cmd/emporium-bench/internal/loadtest"
)

// run measures the shop (started here unless o.url is set) and the bare
// server, scenario by scenario, and writes the report to out.
func run(ctx context.Context, o options, out io.Writer) (err error) {
	rep := &report{Clients: o.concurrency, Duration: o.duration, Warmup: o.warmup, Rounds: o.rounds,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Date: time.Now().UTC().Format(time.DateOnly),
		LoadAverage: [2]float64{loadAverage()}}
	s := &shop{base: o.url, c: loadtest.NewClient(o.concurrency), sizes: map[string]int{},
		run: strconv.FormatInt(time.Now().UnixNano(), 36), admin: admin{o.adminEmail, o.adminPassword}}

	var aio *process
	if o.url == "" {
		if aio, err = startOwn(ctx, o, s); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, aio.stop()) }()
		if rep.Footprint, err = footprint(ctx, aio, o.settle); err != nil {
			return err
		}
		rep.Target = "a fresh all-in-one (SQLite, embedded NATS, demo data)"
		if o.footprint {
			rep.LoadAverage[1] = loadAverage()
			return rep.write(out, o.json)
		}
	} else {
		rep.Target = o.url
	}
	var bare *process
	if o.bare {
		if bare, err = startBare(ctx); err != nil {
			return fmt.Errorf("bare server: %w", err)
		}
		defer func() { err = errors.Join(err, bare.stop()) }()
	}
	if err := s.prepare(ctx, o.concurrency); err != nil {
		return err
	}
	cfg := loadtest.Config{Concurrency: o.concurrency, Warmup: o.warmup, Duration: o.duration}
	for _, name := range o.scenarios {
		sc := scenarios[name]
		if err := sc.prepare(ctx, s); err != nil {
			return fmt.Errorf("%s: prepare: %w", name, err)
		}
		r := scenarioReport{Name: name, Unit: sc.unit, About: sc.about}
		op := sc.op(s)
		var bop loadtest.Op
		if bare != nil {
			bop = bareOp(s.c, bare.base, sc.bare(s))
			r.Bare = &targetReport{}
		}
		r.Emporium = &targetReport{}
		s.steps.take() // the preparation's
		for round := range o.rounds {
			if bop != nil {
				res, cpu := measure(ctx, cfg, bop, bare)
				r.Bare.add(res, cpu)
				progress(name, "bare", round, res)
			}
			res, cpu := measure(ctx, cfg, op, aio)
			r.Emporium.add(res, cpu)
			progress(name, "emporium", round, res)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		r.finish()
		if steps := s.steps.take(); len(steps) > 0 {
			r.Steps = steps
		}
		rep.Scenarios = append(rep.Scenarios, r)
	}
	if aio != nil {
		m, err := aio.readMemory()
		if err != nil {
			return err
		}
		rep.Footprint.AfterLoad = &m
	}
	rep.LoadAverage[1] = loadAverage()
	return rep.write(out, o.json)
}

// measure runs op and returns, when the server is a process of this tool's,
// the CPU time it spent in the run (warm-up included), or -1.
func measure(ctx context.Context, cfg loadtest.Config, op loadtest.Op, server *process) (*loadtest.Result, time.Duration) {
	var before time.Duration = -1
	if server != nil {
		if t, err := server.cpuTime(); err == nil {
			before = t
		}
	}
	res := loadtest.Run(ctx, cfg, op)
	if before < 0 {
		return res, -1
	}
	after, err := server.cpuTime()
	if err != nil {
		return res, -1
	}
	// The warm-up's share is taken off in proportion to time.
	share := float64(cfg.Duration) / float64(cfg.Duration+cfg.Warmup)
	return res, time.Duration(float64(after-before) * share)
}

// startOwn builds (unless o.bin names it) and starts a fresh all-in-one with
// a generated admin.
func startOwn(ctx context.Context, o options, s *shop) (*process, error) {
	bin := o.bin
	if bin == "" {
		dir, err := os.MkdirTemp("", "emporium-bench-bin-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir) // the started process keeps its open file
		fmt.Fprintln(os.Stderr, "building ./cmd/emporium …")
		if bin, err = buildAllInOne(ctx, dir); err != nil {
			return nil, err
		}
	}
	s.admin = admin{email: "bench-admin@example.com", password: randomPassword()}
	p, err := startAllInOne(ctx, bin, s.admin)
	if err != nil {
		return nil, err
	}
	s.base = p.base
	return p, nil
}

// footprint reads the started all-in-one's time to ready and, after settle,
// its idle memory.
func footprint(ctx context.Context, p *process, settle time.Duration) (*footprintReport, error) {
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	m, err := p.readMemory()
	if err != nil {
		return nil, fmt.Errorf("read the all-in-one's memory: %w", err)
	}
	return &footprintReport{ReadyIn: p.readyIn, Settle: settle, Idle: m}, nil
}

// progress tells the terminal of each run as it ends.
func progress(name, target string, round int, r *loadtest.Result) {
	fmt.Fprintf(os.Stderr, "%-9s %-8s round %d: %8.0f/s  p99 %-8s errors %d\n",
		name, target, round+1, r.Rate(), fmtDur(r.Latencies.Quantile(0.99)), r.ErrorCount())
	for cause, example := range r.Examples {
		fmt.Fprintf(os.Stderr, "    %s, e.g. %s\n", cause, example)
	}
}
