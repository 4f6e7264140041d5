package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"emporium/internal/platform/backoff"
)

// Restarting workers: the pause before restart n of a worker that keeps
// failing doubles from one second to 30 (jittered, so that replicas that
// failed together do not restart together), and starts again at one second
// once a run lasted workerSteady: a worker that trips over an outage an hour
// after the last one comes back as fast as the first time.
var workerBackoff = backoff.Policy{Initial: time.Second, Max: 30 * time.Second, Jitter: 0.2}

const workerSteady = time.Minute

// supervisor runs workers and restarts them when they fail or panic, so that
// one broken loop neither stops for good nor takes the process (in the
// all-in-one, every service) down with it.
type supervisor struct {
	log     *slog.Logger
	backoff backoff.Policy
	// steady is how long a run must last for the pauses to start over.
	steady time.Duration
	now    func() time.Time
}

func newSupervisor(log *slog.Logger) supervisor {
	return supervisor{log: log, backoff: workerBackoff, steady: workerSteady, now: time.Now}
}

// run runs w until ctx ends, restarting it after an error, a panic or a
// return before ctx ended.
func (sv supervisor) run(ctx context.Context, w Worker) {
	failures := 0
	for {
		start := sv.now()
		err := runRecovered(ctx, w)
		var p *panicError
		panicked := errors.As(err, &p)
		if ctx.Err() != nil {
			if panicked { // stopping anyway, but the bug must not go unseen
				sv.log.Error("worker panicked while stopping", slog.String("worker", w.Name),
					slog.String("panic", p.value), slog.String("stack", p.stack))
			}
			return
		}
		if sv.now().Sub(start) >= sv.steady {
			failures = 0
		}
		failures++
		pause := sv.backoff.Delay(failures)
		attrs := []slog.Attr{slog.String("worker", w.Name), slog.Duration("pause", pause),
			slog.Int("failures", failures)}
		switch {
		case panicked:
			sv.log.LogAttrs(ctx, slog.LevelError, "worker panicked; restarting", append(attrs,
				slog.String("panic", p.value), slog.String("stack", p.stack))...)
		case err == nil:
			sv.log.LogAttrs(ctx, slog.LevelError, "worker returned before shutdown; restarting", attrs...)
		default:
			sv.log.LogAttrs(ctx, slog.LevelError, "worker stopped; restarting",
				append(attrs, slog.String("error", err.Error()))...)
		}
		if !backoff.Sleep(ctx, pause) {
			return
		}
	}
}

// panicError is a worker's panic, turned into an error.
type panicError struct {
	value, stack string
}

func (e *panicError) Error() string { return "panic: " + e.value }

// runRecovered runs w once, turning a panic into a *panicError.
func runRecovered(ctx context.Context, w Worker) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: fmt.Sprint(v), stack: string(debug.Stack())}
		}
	}()
	return w.Run(ctx)
}
