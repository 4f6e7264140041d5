package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/propagation"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/backoff"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/gateway"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// AllInOneRuntime is the whole shop in one process: an embedded NATS server,
// every unit on loopback listeners with its own SQLite file, and the front
// door. Start it, then Run it.
type AllInOneRuntime struct {
	cfg      AllInOne
	log      *slog.Logger
	nats     *bus.Embedded
	services []*served
	front    *web.Server
	health   *web.Health // the front door's
	gateway  *gateway.Gateway
	routes   map[string]string // path pattern → service name
	closers  []func()          // run in reverse at the end
	ready    chan struct{}     // closed once every service is ready
}

// StartAllInOne opens everything: data directory, embedded NATS, databases
// (migrated), buses, listeners (the front door's too) and services. Nothing is
// served until Run.
// On error, what was opened is closed again.
func StartAllInOne(ctx context.Context, cfg AllInOne, units []Unit, log *slog.Logger) (_ *AllInOneRuntime, err error) {
	log = observability.OrDefault(log)
	rt := &AllInOneRuntime{cfg: cfg, log: log, routes: map[string]string{}, ready: make(chan struct{})}
	defer func() {
		if err != nil {
			rt.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	rt.nats, err = bus.StartEmbedded(bus.EmbeddedConfig{
		Dir: filepath.Join(cfg.DataDir, "nats"), Logger: log.With(slog.String("component", "nats")),
	})
	if err != nil {
		return nil, err
	}
	rt.closers = append(rt.closers, rt.nats.Shutdown)

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	token := auth.NewServiceSecret()

	// Bind every listener first: services learn each other's addresses
	// before any of them is built.
	lns := make([]Listeners, len(units))
	peers := map[string]string{}
	for i, u := range units {
		if lns[i], err = loopbackListeners(); err != nil {
			return nil, err
		}
		rt.closers = append(rt.closers, func() { lns[i].Public.Close(); lns[i].Internal.Close() })
		peers[u.Name] = "http://" + lns[i].Internal.Addr().String()
	}
	var verifier *auth.Verifier
	revoked := &auth.RevocationList{}
	for i, u := range units {
		if u.Name == "identity" {
			verifier, err = auth.NewVerifier(auth.VerifierConfig{
				JWKSURL:     "http://" + lns[i].Public.Addr().String() + "/.well-known/jwks.json",
				Revocations: revoked,
				Logger:      log,
			})
			if err != nil {
				return nil, err
			}
		}
	}

	var routes []gateway.Route
	for i, u := range units {
		d := Deps{Name: u.Name, Logger: log.With(slog.String("service", u.Name)),
			Registry: prometheus.WrapRegistererWith(prometheus.Labels{"service": u.Name}, registry),
			Verifier: verifier, ServiceToken: token, Peers: peers}
		if d.DB, err = openDB(ctx, "sqlite:"+filepath.Join(cfg.DataDir, u.Name+".db"), sqldb.PoolConfig{}, u.Schemas); err != nil {
			return nil, fmt.Errorf("%s: %w", u.Name, err)
		}
		rt.closers = append(rt.closers, func() { d.DB.Close() })
		nc, err := rt.nats.Connect(u.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u.Name, err)
		}
		if d.Bus, err = bus.New(nc, bus.Options{Logger: d.Logger, Registerer: d.Registry}); err != nil {
			return nil, fmt.Errorf("%s: %w", u.Name, err)
		}
		rt.closers = append(rt.closers, d.Bus.Close)
		svc, err := u.Build(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", u.Name, err)
		}
		s, err := prepare(ctx, d, svc, lns[i], registry, cfg.Observability, Streams{})
		if err != nil {
			return nil, err
		}
		rt.services = append(rt.services, s)
		// The front door hands the service's requests to its public handler in
		// this process; its public listener serves the same handler to
		// whoever calls it there (the verifier reads identity's JWKS from it).
		for _, p := range svc.Paths {
			routes = append(routes, gateway.Route{Path: p, Handler: s.public})
			rt.routes[p] = u.Name
		}
	}
	if verifier != nil && len(rt.services) > 0 {
		// One feed serves the one verifier every service shares.
		s := rt.services[0]
		s.followRevocations(s.deps.Bus, revoked, log)
	}
	rt.front = rt.frontDoor(routes, registry)
	if err := rt.front.Listen(); err != nil {
		return nil, err
	}
	return rt, nil
}

// frontDoor is the one public port, and an internal port with metrics and
// the probes for the whole process. The gateway hands each routed request to
// its service's public handler, whose middleware runs once and names the
// service; the front door's own middleware runs only around what it answers
// itself (probes, unrouted paths, refused bodies), under service "gateway".
func (rt *AllInOneRuntime) frontDoor(routes []gateway.Route, registry *prometheus.Registry) *web.Server {
	// Each service's readiness covers its database and its connection to NATS.
	var checks []web.Check
	for _, s := range rt.services {
		checks = append(checks, web.Check{Name: s.name, Run: s.ready})
	}
	health := &web.Health{Checks: checks, Logger: rt.log}
	rt.health = health
	probes := web.NewRouter()
	probes.Handle("GET /livez", http.HandlerFunc(health.Livez))
	probes.Handle("GET /readyz", http.HandlerFunc(health.Readyz))
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"service": "gateway"}, registry)
	stack := web.StackConfig{Logger: rt.log, Registerer: reg, AccessReads: rt.cfg.AccessReads,
		Propagator: propagation.TraceContext{}} // the internet's baggage stops here
	rt.gateway = gateway.NewFront(gateway.Config{Routes: routes, Probes: probes, Logger: rt.log,
		Wrap: func(h http.Handler) http.Handler { return web.Stack(h, stack) }})
	internal := web.NewRouter()
	internal.Handle("GET /livez", http.HandlerFunc(health.Livez))
	internal.Handle("GET /readyz", http.HandlerFunc(health.Readyz))
	internal.Handle("GET /metrics", web.MetricsHandler(registry))
	return web.NewServer(web.ServerConfig{Name: "front-door", PublicAddr: rt.cfg.Addr,
		InternalAddr: rt.cfg.InternalAddr, Public: rt.gateway, Internal: internal, Logger: rt.log,
		ShutdownTimeout: rt.cfg.ShutdownTimeout})
}

// InternalAddr is the address of the front door's internal listener, with
// the process's metrics and probes.
func (rt *AllInOneRuntime) InternalAddr() string { return rt.front.InternalAddr() }

// Routes returns the front door's routes: each path pattern and the name of
// the service it goes to. Nginx routes the same (deploy/services.json; a
// test in cmd/emporium compares them).
func (rt *AllInOneRuntime) Routes() map[string]string { return maps.Clone(rt.routes) }

// Addr is the front door's address.
func (rt *AllInOneRuntime) Addr() string { return rt.front.PublicAddr() }

// Ready is closed once Run serves and every service passes its readiness
// checks: the moment "emporium is ready" is logged.
func (rt *AllInOneRuntime) Ready() <-chan struct{} { return rt.ready }

// Run serves until ctx ends, then shuts down in order (see shutdown.go): every
// /readyz answers 503 while the front door serves on for ShutdownDrain, the
// front door closes its listeners and lets in-flight requests end, then the
// services do the same (without a drain of their own), stop consuming and
// stop their workers, then buses, databases and NATS close. A service that
// fails stops the whole process.
func (rt *AllInOneRuntime) Run(ctx context.Context) error {
	defer rt.close()
	svcCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	var wg sync.WaitGroup
	errc := make(chan error, len(rt.services)+1)
	for _, s := range rt.services {
		wg.Go(func() {
			if err := s.run(svcCtx); err != nil {
				errc <- err
				stopServices()
			}
		})
	}
	frontCtx, stopFront := context.WithCancel(ctx)
	defer stopFront()
	go func() { // a service that fails takes the process down
		<-svcCtx.Done()
		stopFront()
	}()
	go rt.announceReady(frontCtx)
	healths := []*web.Health{rt.health}
	for _, s := range rt.services {
		healths = append(healths, s.health)
	}
	serveCtx, stopServing := drainAfter(frontCtx, rt.cfg.ShutdownDrain, rt.log, healths...)
	defer stopServing()
	if err := rt.front.Serve(serveCtx); err != nil {
		errc <- err
	}
	rt.gateway.CloseIdle()
	stopServices()
	wg.Wait()
	close(errc)
	var err error
	for e := range errc {
		err = errors.Join(err, e)
	}
	if err == nil {
		rt.log.Info("emporium stopped cleanly")
	}
	return err
}

// announceReady logs "emporium is ready" once every service passes its
// readiness checks (the revocation feed, for one, first reads what identity
// published before the start), and warns every 10 seconds until then.
func (rt *AllInOneRuntime) announceReady(ctx context.Context) {
	warnAt := time.Now().Add(10 * time.Second)
	for {
		var err error
		for _, s := range rt.services {
			err = errors.Join(err, s.ready(ctx))
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			rt.log.InfoContext(ctx, "emporium is ready", slog.String("addr", rt.front.PublicAddr()),
				slog.String("internal_addr", rt.front.InternalAddr()),
				slog.String("data_dir", rt.cfg.DataDir), slog.Int("services", len(rt.services)))
			close(rt.ready)
			return
		}
		if time.Now().After(warnAt) {
			rt.log.WarnContext(ctx, "emporium is not ready yet", slog.String("error", err.Error()))
			warnAt = time.Now().Add(10 * time.Second)
		}
		if !backoff.Sleep(ctx, 20*time.Millisecond) {
			return
		}
	}
}

func (rt *AllInOneRuntime) close() {
	for i := len(rt.closers) - 1; i >= 0; i-- {
		rt.closers[i]()
	}
	rt.closers = nil
}

func loopbackListeners() (Listeners, error) {
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Listeners{}, err
	}
	internal, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		pub.Close()
		return Listeners{}, err
	}
	return Listeners{Public: pub, Internal: internal}, nil
}

// openDB opens and migrates a service's database, with the outbox and inbox.
func openDB(ctx context.Context, rawURL string, pool sqldb.PoolConfig,
	schemas []sqldb.Schema) (*sqldb.DB, error) {
	db, err := sqldb.OpenPool(ctx, rawURL, pool)
	if err != nil {
		return nil, err
	}
	all := append([]sqldb.Schema{outbox.Schema, inbox.Schema}, schemas...)
	if err := db.Migrate(ctx, all...); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
