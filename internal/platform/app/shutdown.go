package app

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/web"
)

// Shutting down, in order:
//
//  1. The first SIGINT or SIGTERM ends the context (SignalContext).
//  2. Every /readyz answers 503 at once (web.Health.Drain): the service's own
//     on both listeners, and in the all-in-one the front door's too.
//  3. The process goes on serving for the drain period (SHUTDOWN_DRAIN), so
//     that Nginx and Kubernetes see it unready and stop sending it requests
//     before its listeners close.
//  4. The listeners close and in-flight requests get SHUTDOWN_TIMEOUT to end
//     (web.Server.Serve).
//  5. The consumers stop (giving back the messages they had fetched but not
//     handled), then the workers, the outbox relay among them; then the bus
//     and the database close.
//
// A second signal at any point exits the process at once.

// drainWait waits out a drain period, or until ctx ends. Tests hold it
// (export_test.go).
var drainWait = backoff.Sleep

// drainAfter returns a context that ends drain after ctx ends, for servers to
// serve on: when ctx ends, every one of healths starts draining (its /readyz
// answers 503), and the returned context ends drain later. stop ends it at
// once, and releases what drainAfter started.
func drainAfter(ctx context.Context, drain time.Duration, log *slog.Logger,
	healths ...*web.Health) (_ context.Context, stop context.CancelFunc) {
	serveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-serveCtx.Done():
			return
		case <-ctx.Done():
		}
		for _, h := range healths {
			h.Drain()
		}
		if drain > 0 {
			log.Info("draining: /readyz answers 503 until the listeners close",
				slog.Duration("drain", drain))
			drainWait(serveCtx, drain)
		}
		stop()
	}()
	return serveCtx, stop
}

// SignalContext returns a context that ends at the first SIGINT or SIGTERM,
// which starts the orderly shutdown. A second signal logs "second signal,
// exiting now" on slog.Default() and exits the process at once with status
// 1: whoever presses Ctrl-C twice, or an orchestrator that sends SIGTERM
// again, does not want to wait for the drain. stop stops listening for the
// signals (their default action, ending the process, applies again) and
// ends the context. Commands' mains call it instead of signal.NotifyContext.
func SignalContext(parent context.Context) (_ context.Context, stop context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			slog.Default().Info("shutting down", slog.String("signal", sig.String()))
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			slog.Default().Warn("second signal, exiting now", slog.String("signal", sig.String()))
			if out := logOutput.Load(); out != nil {
				_ = out.Flush() // os.Exit runs no deferred flush
			}
			os.Exit(1)
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}
