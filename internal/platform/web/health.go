package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultCheckTimeout bounds Readyz when Health.Timeout is zero.
const DefaultCheckTimeout = time.Second

// Check is one named readiness check, such as "database" or "bus"; names are
// unique within a Health. Run should return promptly when its context is done.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Health serves the liveness and readiness probes. Its fields are set before
// serving and not changed after; Drain marks it as shutting down. A Health is
// used by pointer and not copied.
type Health struct {
	// Checks are what Readyz runs, all at once.
	Checks []Check
	// Timeout bounds Readyz, so that it answers fast even when a dependency
	// hangs. Zero means DefaultCheckTimeout.
	Timeout time.Duration
	// Logger receives the details of failed checks. Nil means the request's
	// logger (see Logger).
	Logger *slog.Logger

	draining atomic.Bool
}

// Drain makes Readyz answer 503 {"status":"draining"} from now on, at once
// and without running the checks: the process is shutting down, and load
// balancers should stop sending it requests while it still serves those that
// reach it. Livez is not affected.
func (h *Health) Drain() { h.draining.Store(true) }

// Livez answers 200 {"status":"ok"} as long as the process serves HTTP. It
// touches no dependency: a database outage must not get the process killed.
func (h *Health) Livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	_ = JSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// The outcomes of a check as Readyz reports them. Error details are logged,
// never answered: they may name internal hosts.
const (
	checkOK      = "ok"
	checkFailed  = "failed"
	checkTimeout = "timeout"
)

type checkResult struct {
	name string
	err  error
}

// Readyz runs every check concurrently within the timeout and answers 200
// {"status":"ok","checks":{"database":"ok"}} when all pass, 503
// {"status":"unavailable","checks":{...}} otherwise, each check reported as
// "ok", "failed" or "timeout". A check that ignores its context keeps running
// in the background, but Readyz answers at the deadline regardless. After
// Drain it answers 503 {"status":"draining"}.
func (h *Health) Readyz(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		w.Header().Set("Cache-Control", "no-store")
		_ = JSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	results := make(chan checkResult, len(h.Checks)) // buffered: late checks never block
	for _, c := range h.Checks {
		go func() { results <- checkResult{c.Name, c.Run(ctx)} }()
	}
	checks := make(map[string]string, len(h.Checks))
	for _, c := range h.Checks {
		checks[c.Name] = checkTimeout
	}
	ready := true
wait:
	for range h.Checks {
		select {
		case res := <-results:
			checks[res.name] = h.outcome(r.Context(), ctx, res)
		case <-ctx.Done():
			break wait
		}
	}
	for name, outcome := range checks {
		if outcome == checkTimeout {
			h.logger(r.Context()).WarnContext(r.Context(), "readiness check timed out",
				slog.String("check", name), slog.Duration("timeout", timeout))
		}
		if outcome != checkOK {
			ready = false
		}
	}

	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		_ = JSON(w, http.StatusServiceUnavailable,
			map[string]any{"status": "unavailable", "checks": checks})
		return
	}
	_ = JSON(w, http.StatusOK, map[string]any{"status": "ok", "checks": checks})
}

// outcome classifies one finished check, logging why it did not pass.
func (h *Health) outcome(reqCtx, checkCtx context.Context, res checkResult) string {
	switch {
	case res.err == nil:
		return checkOK
	case errors.Is(res.err, context.DeadlineExceeded) && checkCtx.Err() != nil:
		return checkTimeout // logged with the other timeouts
	}
	h.logger(reqCtx).WarnContext(reqCtx, "readiness check failed",
		slog.String("check", res.name), slog.String("error", res.err.Error()))
	return checkFailed
}

func (h *Health) logger(ctx context.Context) *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return Logger(ctx)
}
