package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"emporium/internal/platform/errs"
)

// TestDeadline: every request's context has a deadline, so a handler waiting
// on a dependency that hangs answers 503 instead of hanging.
func TestDeadline(t *testing.T) {
	var deadline time.Time
	h := Stack(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		deadline, _ = r.Context().Deadline()
		<-r.Context().Done() // a dependency that never answers
		return errs.E(errs.Unavailable, "", "the dependency did not answer", r.Context().Err())
	}), StackConfig{RequestTimeout: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	start := time.Now()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if deadline.IsZero() || deadline.After(start.Add(time.Second)) {
		t.Errorf("the request's deadline was %v, want about 50ms after %v", deadline, start)
	}
}

// TestDeadlinePassedIsUnavailable: a handler whose deadline passed and that
// returns what its dependency said (an error without a kind, such as a
// database driver's) answers the same 503 as a slow service behind the front
// door, not a 500.
func TestDeadlinePassedIsUnavailable(t *testing.T) {
	h := Stack(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		<-r.Context().Done()
		return fmt.Errorf("query products: %w", r.Context().Err())
	}), StackConfig{RequestTimeout: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p Problem
	_ = json.NewDecoder(res.Body).Decode(&p)
	if res.StatusCode != http.StatusServiceUnavailable || p.Code != "unavailable" ||
		res.Header.Get("Retry-After") == "" {
		t.Errorf("status %d, code %q, Retry-After %q; want 503 unavailable with Retry-After",
			res.StatusCode, p.Code, res.Header.Get("Retry-After"))
	}
}

// TestClientGoneIsNotAServerError: when the client left, the error its
// leaving caused is recorded as 499 and is not logged as a failure.
func TestClientGoneIsNotAServerError(t *testing.T) {
	var logs logBuffer
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := httptest.NewRequestWithContext(ctx, "GET", "/", nil)
	r = r.WithContext(WithLogger(r.Context(), slog.New(slog.NewJSONHandler(&logs, nil))))
	// Whatever the error: a dependency call cut short says it is unavailable.
	for _, err := range []error{fmt.Errorf("query products: %w", ctx.Err()),
		errs.E(errs.Unavailable, "", "catalog did not answer", ctx.Err())} {
		rec := httptest.NewRecorder()
		WriteError(rec, r, err)
		if rec.Code != StatusClientClosed || rec.Body.Len() != 0 {
			t.Errorf("%v: status %d, body %q; want %d, no body", err, rec.Code, rec.Body,
				StatusClientClosed)
		}
	}
	for _, l := range logs.lines(t) {
		if l["level"] == "ERROR" {
			t.Errorf("logged as an error: %v", l)
		}
	}
}
