package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/web"
)

// Listeners are the bound sockets a service serves on.
type Listeners struct {
	Public, Internal net.Listener
}

// served is a service ready to serve: its server and what runs beside it.
type served struct {
	name    string
	deps    Deps
	svc     *Service
	public  http.Handler // the public routes behind the whole middleware chain
	server  *web.Server
	health  *web.Health
	workers []Worker
	// drain is how long the service goes on serving, unready, after its
	// context ends (SHUTDOWN_DRAIN); zero in the all-in-one, where the front
	// door drains for every service.
	drain time.Duration
	// accessReads thins out the public access lines of successful reads.
	accessReads web.AccessReads
}

// prepare makes the service's streams, with the operator's explicit stream
// settings, and its HTTP server; nothing runs yet.
func prepare(ctx context.Context, d Deps, svc *Service, ln Listeners, gatherer prometheus.Gatherer,
	obs Observability, streams Streams) (*served, error) {
	if svc.Stream != nil {
		cfg := *svc.Stream
		cfg.Override = streams.limits()
		if err := d.Bus.EnsureStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
	}
	if len(svc.Consumers) > 0 {
		if err := d.Bus.EnsureDeadLetter(ctx, streams.Replicas); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
	}
	s := &served{name: d.Name, deps: d, svc: svc, accessReads: obs.AccessReads}
	s.health = &web.Health{Checks: append([]web.Check{
		{Name: "database", Run: d.DB.Ping},
		{Name: "bus", Run: d.Bus.Ready},
	}, svc.Checks...)}
	s.public = s.publicHandler()
	s.server = web.NewServer(web.ServerConfig{
		Name:             d.Name,
		PublicListener:   ln.Public,
		InternalListener: ln.Internal,
		Public:           s.public,
		Internal:         s.internalHandler(gatherer),
		Logger:           d.Logger,
		ShutdownTimeout:  obs.ShutdownTimeout,
	})
	if svc.Stream != nil {
		relay := outbox.NewRelay(d.DB, d.Bus, outbox.RelayConfig{Logger: d.Logger, Registerer: d.Registry,
			Subjects: svc.Stream.Subjects})
		s.workers = append(s.workers, Worker{Name: "outbox-relay", Run: relay.Run})
	}
	if len(svc.Consumers) > 0 {
		s.workers = append(s.workers, Worker{Name: "inbox-janitor",
			Run: inbox.Janitor(d.DB, inbox.DefaultRetention, inbox.DefaultJanitorInterval)})
	}
	s.workers = append(s.workers, svc.Workers...)
	return s, nil
}

// publicHandler serves the probes beside the service's public routes, which
// see the caller of a valid access token.
func (s *served) publicHandler() http.Handler {
	mux := web.NewRouter()
	mux.Handle("GET /livez", http.HandlerFunc(s.health.Livez))
	mux.Handle("GET /readyz", http.HandlerFunc(s.health.Readyz))
	var h http.Handler = s.svc.Public
	if s.deps.Verifier != nil {
		h = auth.Authenticate(s.deps.Verifier)(h)
	}
	mux.Handle("/", h)
	// Public callers may continue a trace but not attach baggage that would
	// travel on every internal call and outbox row.
	return web.Stack(mux, web.StackConfig{Logger: s.deps.Logger, Registerer: s.deps.Registry,
		Propagator: propagation.TraceContext{}, AccessReads: s.accessReads})
}

// internalHandler serves the probes and metrics, and the service's internal
// routes behind the service credential.
func (s *served) internalHandler(gatherer prometheus.Gatherer) http.Handler {
	mux := web.NewRouter()
	mux.Handle("GET /livez", http.HandlerFunc(s.health.Livez))
	mux.Handle("GET /readyz", http.HandlerFunc(s.health.Readyz))
	mux.Handle("GET /metrics", web.MetricsHandler(gatherer))
	if s.svc.Internal != nil {
		mux.Handle("/internal/", auth.RequireService(s.deps.ServiceToken)(s.svc.Internal))
	}
	return web.Stack(mux, web.StackConfig{Logger: s.deps.Logger, Registerer: s.deps.Registry})
}

// run serves until ctx ends, then stops in order (see shutdown.go): /readyz
// answers 503 while the service serves on for s.drain, the HTTP server closes
// its listeners and lets in-flight requests end, the consumers stop (after
// the event in hand; what they had fetched beside it goes back to the
// stream), then the workers (the outbox relay among them) stop. Whatever is
// not yet relayed stays in the outbox for the next start.
func (s *served) run(ctx context.Context) error {
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	sv := newSupervisor(s.deps.Logger)
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Go(func() { sv.run(workCtx, w) })
	}
	var consumers []*bus.Consumer
	var err error
	for _, cfg := range s.svc.Consumers {
		c, cerr := s.deps.Bus.Consume(workCtx, cfg)
		if cerr != nil {
			err = fmt.Errorf("%s: %w", s.name, cerr)
			break
		}
		consumers = append(consumers, c)
	}
	if err == nil {
		serveCtx, stopServing := drainAfter(ctx, s.drain, s.deps.Logger, s.health)
		err = s.server.Serve(serveCtx)
		stopServing()
	}
	for _, c := range consumers {
		c.Stop()
	}
	stopWork()
	wg.Wait()
	return err
}

// ready runs the service's readiness checks; the front door's /readyz uses it.
func (s *served) ready(ctx context.Context) error {
	var errs []error
	for _, c := range s.health.Checks {
		if err := c.Run(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}
