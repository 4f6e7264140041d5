package httpclient

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

// TestBadCallIsInternal checks that a downstream 4xx that means this service
// called it wrongly reaches the end user as a bare 500: not the downstream's
// status, code, detail or WWW-Authenticate, which would make a client blame
// its own request or token. The downstream's answer stays in the error for
// the log.
func TestBadCallIsInternal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sent error
	}{
		{"wrong service token", errs.New(errs.Unauthenticated, "unauthenticated",
			"a valid service credential is required")},
		{"not allowed", errs.New(errs.Forbidden, "forbidden", "a service credential is required")},
		{"malformed request", errs.New(errs.Malformed, "malformed_json",
			"the body is not valid JSON")},
		{"body too large", errs.New(errs.TooLarge, "body_too_large",
			"the body is larger than 1048576 bytes")},
		{"not JSON", errs.New(errs.UnsupportedMedia, "unsupported_media_type",
			"the body must be application/json")},
		{"wrong method", errs.New(errs.Other, "method_not_allowed", "POST is not allowed")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sent := web.ProblemFor(tt.sent)
			if tt.name == "wrong method" {
				sent.Status, sent.Code, sent.Detail = http.StatusMethodNotAllowed,
					"method_not_allowed", "POST is not allowed"
			}
			s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				if sent.Status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="emporium"`)
				}
				web.WriteProblem(w, sent)
			})
			c := newClient(t, s, nil)
			err := c.PostJSON(testContext(t, 10*time.Second), "/internal/reservations", "k1",
				map[string]string{"reservation_id": "r1"}, nil)
			if got := asError(t, err); got.Kind != errs.Other {
				t.Errorf("kind = %v, want other", got.Kind)
			}
			if s.count() != 1 {
				t.Errorf("server saw %d requests, want 1 (a bad call is not retried)", s.count())
			}
			// What the end user gets from the caller's own handler.
			rec := httptest.NewRecorder()
			web.WriteError(rec, quietRequest(http.MethodPost, "/api/v1/orders"), err)
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("end user status = %d, want 500", rec.Code)
			}
			if h := rec.Header().Get("WWW-Authenticate"); h != "" {
				t.Errorf("end user WWW-Authenticate = %q, want none", h)
			}
			body := rec.Body.String()
			if !strings.Contains(body, `"code":"internal"`) || strings.Contains(body, sent.Detail) {
				t.Errorf("end user body = %s, want internal without %q", body, sent.Detail)
			}
			// The log line (err.Error()) says what went wrong.
			said := fmt.Sprintf("catalog answered %d %s (%s: %s)", sent.Status,
				http.StatusText(sent.Status), sent.Code, sent.Detail)
			for _, want := range []string{said, "POST /internal/reservations"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

// TestPeerRateLimitIsUnavailable checks that a downstream's 429 — a peer
// rate limiting this service, not the end user — is a 503 with the peer's
// Retry-After.
func TestPeerRateLimitIsUnavailable(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		web.WriteError(w, r, &errs.Error{Kind: errs.RateLimited, Code: "rate_limited",
			Message: "slow down", RetryAfter: 30 * time.Second})
	})
	c := newClient(t, s, nil)
	err := c.GetJSON(testContext(t, 10*time.Second), "/internal/products/p1", nil)
	got := asError(t, err)
	if got.Kind != errs.Unavailable || got.Code != "unavailable" ||
		got.RetryAfter != 30*time.Second {
		t.Errorf("kind, code, RetryAfter = %v, %q, %v; want unavailable, unavailable, 30s",
			got.Kind, got.Code, got.RetryAfter)
	}
	// Retry-After 30s is more than the retry budget: one request only.
	if s.count() != 1 {
		t.Errorf("server saw %d requests, want 1", s.count())
	}
	rec := httptest.NewRecorder()
	web.WriteError(rec, quietRequest(http.MethodGet, "/api/v1/products/p1"), err)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "30" {
		t.Errorf("end user got %d with Retry-After %q, want 503 with 30", rec.Code,
			rec.Header().Get("Retry-After"))
	}
	if body := rec.Body.String(); strings.Contains(body, "slow down") ||
		strings.Contains(body, "rate_limited") {
		t.Errorf("end user body = %s, want the catalog service unavailable", body)
	}
}

// quietRequest is an incoming request whose handler logs nowhere.
func quietRequest(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	return r.WithContext(web.WithLogger(r.Context(), slog.New(slog.DiscardHandler)))
}
