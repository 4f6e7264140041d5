package httpclient

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/errs"
)

func TestOnlyIdempotentRequestsAreRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		key      string
		wantHits int
		wantErr  bool
	}{
		{"POST without key is sent once", http.MethodPost, "", 1, true},
		{"PATCH without key is sent once", http.MethodPatch, "", 1, true},
		{"POST with key is retried", http.MethodPost, "k-1", 3, false},
		{"PATCH with key is retried", http.MethodPatch, "k-1", 3, false},
		{"GET is retried", http.MethodGet, "", 3, false},
		{"PUT is retried", http.MethodPut, "", 3, false},
		{"DELETE is retried", http.MethodDelete, "", 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, failThen(2, http.StatusServiceUnavailable))
			c := newClient(t, s, nil)
			_, err := c.Do(testContext(t, 10*time.Second), Request{Method: tt.method,
				Path: "/internal/reservations", IdempotencyKey: tt.key, Body: map[string]int{"n": 1}})
			if got := s.count(); got != tt.wantHits {
				t.Errorf("server saw %d requests, want %d", got, tt.wantHits)
			}
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				if got := asError(t, err); got.Kind != errs.Unavailable || got.Code != "unavailable" {
					t.Errorf("error kind, code = %v, %q; want unavailable", got.Kind, got.Code)
				}
			}
		})
	}
}

func TestPostWithoutKeyIsNotRetriedOnNetworkError(t *testing.T) {
	t.Parallel()
	s := newServer(t, status(http.StatusOK, ""))
	c := newClient(t, s, nil)
	s.Close() // connection refused from now on

	err := c.PostJSON(testContext(t, 10*time.Second), "/internal/reservations", "", 1, nil)
	if got := asError(t, err).Kind; got != errs.Unavailable {
		t.Errorf("kind = %v, want unavailable", got)
	}
	if got := retries(t, c); got != 0 {
		t.Errorf("retries = %v, want 0", got)
	}

	err = c.GetJSON(testContext(t, 10*time.Second), "/internal/products", nil)
	if got := asError(t, err).Kind; got != errs.Unavailable {
		t.Errorf("kind = %v, want unavailable", got)
	}
	if got, want := retries(t, c), float64(DefaultMaxAttempts-1); got != want {
		t.Errorf("retries after GET = %v, want %v", got, want)
	}
}

func TestGetRetriesWithGrowingBackoff(t *testing.T) {
	t.Parallel()
	const base = 40 * time.Millisecond
	s := newServer(t, failThen(2, http.StatusBadGateway))
	c := newClient(t, s, func(cfg *Config) {
		cfg.BaseBackoff, cfg.MaxBackoff = base, time.Second
	})
	c.backoff.Jitter = 0 // wait the jitter's ceiling

	var out struct{ OK bool }
	if err := c.GetJSON(testContext(t, 10*time.Second), "/internal/products", &out); err != nil {
		t.Fatalf("GetJSON: %v", err)
	}
	if !out.OK {
		t.Errorf("out = %+v, want the decoded answer", out)
	}
	hits := s.recorded()
	if len(hits) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(hits))
	}
	// Waits of base and then 2*base: each gap is at least its wait.
	for i, want := range []time.Duration{base, 2 * base} {
		if gap := hits[i+1].at.Sub(hits[i].at); gap < want {
			t.Errorf("gap before attempt %d = %v, want ≥ %v", i+2, gap, want)
		}
	}
	if got := retries(t, c); got != 2 {
		t.Errorf("retries = %v, want 2", got)
	}
	if got := c.logs.records(t, "retrying request"); len(got) != 2 || got[0]["level"] != "DEBUG" {
		t.Errorf("retry log records = %v, want 2 at DEBUG", got)
	}
}

// TestBackoff: the client's waits are the shared backoff policy built from
// its Config: BaseBackoff doubling up to MaxBackoff, with full jitter.
func TestBackoff(t *testing.T) {
	t.Parallel()
	c := New(Config{Name: "catalog", BaseURL: "http://catalog", BaseBackoff: 50 * time.Millisecond,
		MaxBackoff: time.Second})
	want := backoff.Policy{Initial: 50 * time.Millisecond, Max: time.Second, Jitter: 1}
	if c.backoff != want {
		t.Errorf("policy = %+v, want %+v", c.backoff, want)
	}
	inverted := New(Config{BaseBackoff: time.Second, MaxBackoff: time.Millisecond})
	if got := inverted.backoff.Max; got != time.Second {
		t.Errorf("MaxBackoff below BaseBackoff: Max = %v, want BaseBackoff", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.header, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	c := newClient(t, s, func(cfg *Config) { cfg.MaxBackoff = time.Second })
	if err := c.Delete(testContext(t, 10*time.Second), "/internal/reservations/r1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	hits := s.recorded()
	if len(hits) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(hits))
	}
	if gap := hits[1].at.Sub(hits[0].at); gap < time.Second {
		t.Errorf("gap between attempts = %v, want ≥ 1s (Retry-After: 1)", gap)
	}
}

func TestGivesUpRatherThanWaitPastBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		ctxTimeout time.Duration
		edit       func(*Config)
		wantHint   time.Duration
	}{
		{
			name: "Retry-After beyond the ctx deadline", retryAfter: "5", ctxTimeout: time.Second,
			edit:     func(cfg *Config) { cfg.MaxBackoff = 10 * time.Second },
			wantHint: 5 * time.Second,
		},
		{
			name: "Retry-After beyond the retry budget", retryAfter: "120", ctxTimeout: time.Minute,
			edit:     func(cfg *Config) { cfg.MaxBackoff = time.Second },
			wantHint: 2 * time.Minute,
		},
		{
			name: "backoff beyond the ctx deadline", ctxTimeout: time.Second,
			edit: func(cfg *Config) { cfg.BaseBackoff, cfg.MaxBackoff = 5*time.Second, 5*time.Second },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, status(http.StatusServiceUnavailable, tt.retryAfter))
			c := newClient(t, s, tt.edit)
			c.backoff.Jitter = 0
			ctx := testContext(t, tt.ctxTimeout)

			err := c.GetJSON(ctx, "/internal/products", nil)

			if ctx.Err() != nil {
				t.Errorf("the call returned after its deadline (ctx: %v)", ctx.Err())
			}
			e := asError(t, err)
			if e.Kind != errs.Unavailable || e.RetryAfter != tt.wantHint {
				t.Errorf("kind, RetryAfter = %v, %v; want unavailable, %v", e.Kind, e.RetryAfter,
					tt.wantHint)
			}
			if got := s.count(); got != 1 {
				t.Errorf("server saw %d requests, want 1", got)
			}
		})
	}
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close

	t.Run("per attempt", func(t *testing.T) {
		c := newClient(t, s, func(cfg *Config) { cfg.Timeout, cfg.MaxAttempts = 100*time.Millisecond, 2 })
		ctx := testContext(t, time.Minute)
		err := c.GetJSON(ctx, "/internal/products", nil)
		if got := asError(t, err).Kind; got != errs.Unavailable {
			t.Errorf("kind = %v, want unavailable", got)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
		}
		if ctx.Err() != nil {
			t.Errorf("the caller's ctx ended (%v); the attempt timeout should have", ctx.Err())
		}
		if got := retries(t, c); got != 1 {
			t.Errorf("retries = %v, want 1 (an attempt timeout is retried)", got)
		}
	})
	t.Run("caller's budget", func(t *testing.T) {
		c := newClient(t, s, func(cfg *Config) { cfg.Timeout = time.Minute })
		ctx := testContext(t, 100*time.Millisecond)
		err := c.GetJSON(ctx, "/internal/products", nil)
		if got := asError(t, err).Kind; got != errs.Unavailable {
			t.Errorf("kind = %v, want unavailable", got)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
		}
	})
}
