package httpclient

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"emporium/internal/platform/errs"
)

func TestBreakerOpensFailsFastHalfOpensAndCloses(t *testing.T) {
	t.Parallel()
	const openFor = time.Second
	var answer atomic.Int64
	answer.Store(http.StatusInternalServerError)
	s := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(answer.Load()))
	})
	c := newClient(t, s, func(cfg *Config) {
		cfg.MaxAttempts = 1
		cfg.Breaker = BreakerConfig{Failures: 3, OpenFor: openFor}
	})
	ctx := testContext(t, 10*time.Second)

	for i := range 3 {
		if got := breakerGauge(t, c); got != 0 {
			t.Fatalf("gauge before failure %d = %v, want 0 (closed)", i+1, got)
		}
		err := c.GetJSON(ctx, "/internal/products", nil)
		if got := asError(t, err).Kind; got != errs.Unavailable {
			t.Fatalf("failure %d: kind = %v, want unavailable", i+1, got)
		}
	}
	if got := breakerGauge(t, c); got != 2 {
		t.Fatalf("gauge after 3 failures = %v, want 2 (open)", got)
	}

	// Open: fail fast without reaching the server.
	err := c.GetJSON(ctx, "/internal/products", nil)
	e := asError(t, err)
	if e.Kind != errs.Unavailable || e.RetryAfter <= 0 || e.RetryAfter > openFor {
		t.Errorf("kind, RetryAfter = %v, %v; want unavailable, within (0, %v]", e.Kind,
			e.RetryAfter, openFor)
	}
	if !errors.Is(err, gobreaker.ErrOpenState) {
		t.Errorf("error %v does not wrap gobreaker.ErrOpenState", err)
	}
	if got := s.count(); got != 3 {
		t.Errorf("server saw %d requests, want 3 (the open breaker must not send)", got)
	}
	if err := c.Check(ctx); errs.KindOf(err) != errs.Unavailable {
		t.Errorf("Check while open = %v, want unavailable", err)
	}
	if got := c.logs.records(t, "circuit breaker state changed"); len(got) != 1 ||
		got[0]["level"] != "WARN" || got[0]["to"] != "open" {
		t.Errorf("state change log records = %v, want one WARN to open", got)
	}

	// After OpenFor the breaker half-opens.
	eventually(t, 5*time.Second, "the breaker to half-open", func() bool {
		return c.Check(ctx) == nil
	})
	if got := breakerGauge(t, c); got != 1 {
		t.Errorf("gauge after open period = %v, want 1 (half-open)", got)
	}

	// A successful probe closes it.
	answer.Store(http.StatusOK)
	if err := c.GetJSON(ctx, "/internal/products", nil); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if got := s.count(); got != 4 {
		t.Errorf("server saw %d requests, want 4", got)
	}
	if got := breakerGauge(t, c); got != 0 {
		t.Errorf("gauge after a successful probe = %v, want 0 (closed)", got)
	}
}

func TestBreakerReopensOnFailedProbe(t *testing.T) {
	t.Parallel()
	s := newServer(t, status(http.StatusServiceUnavailable, ""))
	c := newClient(t, s, func(cfg *Config) {
		cfg.MaxAttempts = 1
		cfg.Breaker = BreakerConfig{Failures: 1, OpenFor: 50 * time.Millisecond}
	})
	ctx := testContext(t, 10*time.Second)
	_ = c.GetJSON(ctx, "/", nil)
	if got := breakerGauge(t, c); got != 2 {
		t.Fatalf("gauge = %v, want 2 (open)", got)
	}
	eventually(t, 5*time.Second, "the breaker to half-open", func() bool {
		return c.Check(ctx) == nil
	})
	_ = c.GetJSON(ctx, "/", nil)
	if got := breakerGauge(t, c); got != 2 {
		t.Errorf("gauge after a failed probe = %v, want 2 (open)", got)
	}
	if got := s.count(); got != 2 {
		t.Errorf("server saw %d requests, want 2", got)
	}
}

func TestBreakerCountsAnswered4xxAsSuccess(t *testing.T) {
	t.Parallel()
	s := newServer(t, status(http.StatusNotFound, ""))
	c := newClient(t, s, func(cfg *Config) { cfg.Breaker.Failures = 2 })
	ctx := testContext(t, 10*time.Second)
	for range 5 {
		if err := c.GetJSON(ctx, "/internal/products/p1", nil); errs.KindOf(err) != errs.NotFound {
			t.Fatalf("error = %v, want not found", err)
		}
	}
	if got := s.count(); got != 5 {
		t.Errorf("server saw %d requests, want 5", got)
	}
	if got := breakerGauge(t, c); got != 0 {
		t.Errorf("gauge = %v, want 0 (closed)", got)
	}
}

func TestBreakerStopsRetries(t *testing.T) {
	t.Parallel()
	s := newServer(t, status(http.StatusBadGateway, ""))
	c := newClient(t, s, func(cfg *Config) {
		cfg.MaxAttempts = 5
		cfg.Breaker.Failures = 2
	})
	err := c.GetJSON(testContext(t, 10*time.Second), "/internal/products", nil)
	if !errors.Is(err, gobreaker.ErrOpenState) {
		t.Errorf("error = %v, want the open breaker's", err)
	}
	if got := s.count(); got != 2 {
		t.Errorf("server saw %d requests, want 2 (the breaker opened after them)", got)
	}
}

// TestBreakerIgnoresTheCallersDeadline: an attempt cut short by the caller's
// own deadline or cancellation says nothing about the downstream and does not
// count towards opening the breaker; one cut short by the client's own
// per-attempt Timeout does.
func TestBreakerIgnoresTheCallersDeadline(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers in time
	})
	c := newClient(t, s, func(cfg *Config) {
		cfg.MaxAttempts = 1
		cfg.Timeout = 5 * time.Second
		cfg.Breaker = BreakerConfig{Failures: 1, OpenFor: time.Minute}
	})
	short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := c.GetJSON(short, "/internal/products", nil)
	if asError(t, err).Kind != errs.Unavailable {
		t.Fatalf("GetJSON past the caller's deadline = %v, want unavailable", err)
	}
	canceled, cancel := context.WithCancel(t.Context())
	go func() {
		eventually(t, 5*time.Second, "the second request", func() bool { return s.count() == 2 })
		cancel()
	}()
	_ = c.GetJSON(canceled, "/internal/products", nil)
	if got := breakerGauge(t, c); got != 0 {
		t.Fatalf("breaker gauge after the caller gave up = %v, want 0 (closed)", got)
	}

	// The client's own timeout is the downstream's failure.
	c.timeout = 20 * time.Millisecond
	_ = c.GetJSON(testContext(t, 5*time.Second), "/internal/products", nil)
	if got := breakerGauge(t, c); got != 2 {
		t.Errorf("breaker gauge after an attempt timed out = %v, want 2 (open)", got)
	}
}
