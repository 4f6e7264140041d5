package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/config"
	"emporium/internal/platform/observability"
)

// Main is the body of a service's own command: it loads cfg (which embeds
// Base) from the environment, logs it with secrets masked, and runs unit on
// PostgreSQL (or SQLite) and an external NATS until ctx ends. Errors are
// printed for a person to read; the exit code says whether to restart.
func Main(ctx context.Context, cfg interface{ base() *Base }, unit func() Unit) int {
	if err := config.Load(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	b := cfg.base()
	u := unit()
	log, shutdown, err := Observe(ctx, u.Name, b.Observability)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shutdown(context.WithoutCancel(ctx))
	config.Log(log, cfg)
	if err := RunService(ctx, u, *b, log); err != nil {
		log.Error("stopped with an error", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

func (b *Base) base() *Base { return b }

// Observe sets up what every process has: JSON logs on stderr, buffered and
// written out every observability.DefaultFlushInterval, also as
// slog.Default() (for what logs before or without a logger of its own, such
// as SignalContext), and tracing. The returned function flushes the traces,
// then the logs.
func Observe(ctx context.Context, name string, o Observability) (*slog.Logger, func(context.Context) error, error) {
	out := observability.NewBufferedWriter(os.Stderr, 0)
	log := observability.NewLogger(out, o.LogLevel)
	slog.SetDefault(log)
	logOutput.Store(out)
	shutdown, err := observability.SetupTracing(ctx, observability.TracingConfig{
		ServiceName: name, OTLPEndpoint: o.OTLPEndpoint, Logger: log,
	})
	if err != nil {
		out.Close()
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	return log, func(ctx context.Context) error {
		return errors.Join(shutdown(ctx), out.Close())
	}, nil
}

// logOutput is the buffer behind slog.Default() once Observe made it, for
// SignalContext to flush before it exits the process.
var logOutput atomic.Pointer[observability.BufferedWriter]

// RunService runs one unit as its own process, configured by b.
func RunService(ctx context.Context, u Unit, b Base, log *slog.Logger) error {
	var ln Listeners
	var err error
	if ln.Public, err = net.Listen("tcp", b.PublicAddr); err != nil {
		return err
	}
	if ln.Internal, err = net.Listen("tcp", b.InternalAddr); err != nil {
		ln.Public.Close()
		return err
	}
	return ServeService(ctx, u, b, ln, log)
}

// ServeService is RunService on listeners already bound, which it closes.
func ServeService(ctx context.Context, u Unit, b Base, ln Listeners, log *slog.Logger) error {
	log = observability.OrDefault(log)
	closeListeners := func() {
		ln.Public.Close()
		ln.Internal.Close()
	}
	log = log.With(slog.String("service", u.Name))
	db, err := openDB(ctx, b.DatabaseURL, b.Pool(), u.Schemas)
	if err != nil {
		closeListeners()
		return err
	}
	defer db.Close()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"service": u.Name}, registry)
	bs, err := bus.Connect(ctx, b.NATSURL, u.Name, bus.Options{Logger: log, Registerer: reg})
	if err != nil {
		closeListeners()
		return err
	}
	defer bs.Close()
	revoked := &auth.RevocationList{}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: b.JWKSURL, Revocations: revoked, Logger: log})
	if err != nil {
		closeListeners()
		return err
	}
	d := Deps{Name: u.Name, DB: db, Bus: bs, Logger: log, Registry: reg, Verifier: verifier,
		ServiceToken: b.ServiceToken, Peers: b.Peers.Map()}
	svc, err := u.Build(ctx, d)
	if err != nil {
		closeListeners()
		return fmt.Errorf("build %s: %w", u.Name, err)
	}
	s, err := prepare(ctx, d, svc, ln, registry, b.Observability, b.Streams)
	if err != nil {
		closeListeners()
		return err
	}
	s.followRevocations(bs, revoked, log)
	s.drain = b.ShutdownDrain
	return s.run(ctx)
}
