package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"emporium/deploy/local"
	"emporium/internal/platform/backoff"
)

// Faults injects one fault at a time, chosen by a seeded random schedule,
// each healed before the next: a replica (or two of different services)
// killed with SIGKILL and restarted, the NATS server restarted (stopped or killed), a service's PostgreSQL connections
// dropped, latency on one of a service's dependencies, and a link between
// services cut (new connections refused, open ones dropped). The payment
// provider's faults are the sandbox's own (ClusterConfig.PaymentFaults),
// for the whole run.
type Faults struct {
	Cluster *Cluster
	Seed    uint64
	// Log receives a line per fault.
	Log func(format string, args ...any)
	// Count is how many faults were injected.
	Count atomic.Int64
}

// Run injects faults until ctx is done, then heals everything and makes
// sure every replica runs.
func (f *Faults) Run(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(f.Seed, 2<<32))
	defer f.Cluster.Heal()
	faults := []func(context.Context, *rand.Rand) error{f.kill, f.kill, f.killTwo, f.restartNATS,
		f.dropPostgres, f.slow, f.partition}
	for backoff.Sleep(ctx, time.Duration(500+rng.IntN(2000))*time.Millisecond) {
		if err := f.restartAll(ctx); err != nil {
			return err
		}
		if err := faults[rng.IntN(len(faults))](ctx, rng); err != nil {
			return err
		}
		f.Count.Add(1)
	}
	return f.restartAll(context.WithoutCancel(ctx))
}

// hold waits a random 0.5–3 s (less when ctx ends).
func hold(ctx context.Context, rng *rand.Rand) {
	backoff.Sleep(ctx, time.Duration(500+rng.IntN(2500))*time.Millisecond)
}

func (f *Faults) kill(ctx context.Context, rng *rand.Rand) error {
	ps := f.Cluster.Topology.Processes()
	p := ps[rng.IntN(len(ps))]
	f.Log("SIGKILL %s", p.Name)
	if err := p.Kill(); err != nil {
		return err
	}
	hold(ctx, rng)
	return f.restart(context.WithoutCancel(ctx), p)
}

// killTwo kills two replicas of different services at once (orders and
// payments in the middle of a payment, say), and restarts both.
func (f *Faults) killTwo(ctx context.Context, rng *rand.Rand) error {
	ps := f.Cluster.Topology.Processes()
	a := ps[rng.IntN(len(ps))]
	b := ps[rng.IntN(len(ps))]
	for b.Service == a.Service {
		b = ps[rng.IntN(len(ps))]
	}
	f.Log("SIGKILL %s and %s", a.Name, b.Name)
	for _, p := range []*local.Process{a, b} {
		if err := p.Kill(); err != nil {
			return err
		}
	}
	hold(ctx, rng)
	for _, p := range []*local.Process{a, b} {
		if err := f.restart(context.WithoutCancel(ctx), p); err != nil {
			return err
		}
	}
	return nil
}

func (f *Faults) restart(ctx context.Context, p *local.Process) error {
	if err := f.Cluster.Topology.Restart(ctx, p); err != nil {
		return fmt.Errorf("restart %s: %w", p.Name, err)
	}
	return nil
}

func (f *Faults) restartNATS(ctx context.Context, rng *rand.Rand) error {
	pause := time.Duration(rng.IntN(2000)) * time.Millisecond
	kill := rng.IntN(2) == 0
	how := "SIGTERM"
	if kill {
		how = "SIGKILL"
	}
	f.Log("restart the NATS server (%s, down %s)", how, pause.Round(time.Millisecond))
	return f.Cluster.NATS.restart(kill, pause)
}

func (f *Faults) dropPostgres(ctx context.Context, rng *rand.Rand) error {
	p := f.pick(rng, "→postgres")
	f.Log("drop %s's connections (%d) and refuse new ones for a while", p.Name, p.Drop())
	p.Refuse(true)
	hold(ctx, rng)
	p.Heal()
	return nil
}

func (f *Faults) slow(ctx context.Context, rng *rand.Rand) error {
	p := f.pick(rng, "")
	d := time.Duration(50+rng.IntN(450)) * time.Millisecond
	f.Log("latency %s on %s", d, p.Name)
	p.SetLatency(d)
	hold(ctx, rng)
	p.Heal()
	return nil
}

// partition cuts a link between two services, or between a service and
// NATS or Redis.
func (f *Faults) partition(ctx context.Context, rng *rand.Rand) error {
	var links []*Proxy
	for _, p := range f.Cluster.Proxies() {
		if !strings.HasSuffix(p.Name, "→postgres") {
			links = append(links, p)
		}
	}
	p := links[rng.IntN(len(links))]
	f.Log("partition %s", p.Name)
	p.Refuse(true)
	p.Drop()
	hold(ctx, rng)
	p.Heal()
	return nil
}

// pick chooses a proxy whose name ends with suffix.
func (f *Faults) pick(rng *rand.Rand, suffix string) *Proxy {
	var ps []*Proxy
	for _, p := range f.Cluster.Proxies() {
		if strings.HasSuffix(p.Name, suffix) {
			ps = append(ps, p)
		}
	}
	return ps[rng.IntN(len(ps))]
}

// restartAll starts every replica that is not running: one that ended by
// itself (its log says why), as Kubernetes would.
func (f *Faults) restartAll(ctx context.Context) error {
	for _, p := range f.Cluster.Topology.Processes() {
		if !p.Running() {
			f.Log("%s is down, though not killed (%v); restarting it", p.Name, p.Err())
			if err := f.restart(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}
