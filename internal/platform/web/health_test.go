package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type healthBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func serveHealth(t *testing.T, h *Health) *httptest.Server {
	t.Helper()
	rt := NewRouter()
	rt.Handle("GET /livez", http.HandlerFunc(h.Livez))
	rt.Handle("GET /readyz", http.HandlerFunc(h.Readyz))
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	return srv
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	ok := func(context.Context) error { return nil }
	failing := func(context.Context) error {
		return errors.New("dial tcp db.internal.example:5432: connection refused")
	}
	hanging := func(context.Context) error { <-hang; return nil } // ignores its context
	honest := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

	tests := []struct {
		name       string
		checks     []Check
		wantStatus int
		want       healthBody
	}{
		{"no checks", nil, 200, healthBody{"ok", map[string]string{}}},
		{"all pass", []Check{{"database", ok}, {"bus", ok}}, 200,
			healthBody{"ok", map[string]string{"database": "ok", "bus": "ok"}}},
		{"one fails", []Check{{"database", ok}, {"bus", failing}}, 503,
			healthBody{"unavailable", map[string]string{"database": "ok", "bus": "failed"}}},
		{"one hangs", []Check{{"database", ok}, {"bus", hanging}}, 503,
			healthBody{"unavailable", map[string]string{"database": "ok", "bus": "timeout"}}},
		{"one honours its deadline", []Check{{"cache", honest}}, 503,
			healthBody{"unavailable", map[string]string{"cache": "timeout"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := newTestLogger(slog.LevelInfo)
			srv := serveHealth(t, &Health{Checks: tt.checks, Timeout: 300 * time.Millisecond,
				Logger: logger})
			res, body := do(t, srv.Client(), "GET", srv.URL+"/readyz", nil, "")
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			var got healthBody
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if got.Status != tt.want.Status || !maps.Equal(got.Checks, tt.want.Checks) {
				t.Errorf("body = %+v, want %+v", got, tt.want)
			}
			if strings.Contains(string(body), "db.internal") {
				t.Errorf("body leaks a host name: %s", body)
			}
			if tt.name == "one fails" && !strings.Contains(logs.String(), "db.internal") {
				t.Errorf("the failure's detail was not logged: %s", logs)
			}
		})
	}
}

func TestLivezIgnoresChecks(t *testing.T) {
	t.Parallel()
	fail := func(context.Context) error { return errors.New("down") }
	srv := serveHealth(t, &Health{Checks: []Check{{"database", fail}, {"bus", fail}}})
	res, body := do(t, srv.Client(), "GET", srv.URL+"/livez", nil, "")
	if res.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("livez = %d %s, want 200 {\"status\":\"ok\"}", res.StatusCode, body)
	}
	res, _ = do(t, srv.Client(), "GET", srv.URL+"/readyz", nil, "")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz = %d, want 503", res.StatusCode)
	}
}

func TestReadyzAfterDrain(t *testing.T) {
	t.Parallel()
	var ran atomic.Int32
	ok := func(context.Context) error { ran.Add(1); return nil }
	h := &Health{Checks: []Check{{"database", ok}}}
	srv := serveHealth(t, h)
	if res, _ := do(t, srv.Client(), "GET", srv.URL+"/readyz", nil, ""); res.StatusCode != http.StatusOK {
		t.Fatalf("readyz before Drain = %d, want 200", res.StatusCode)
	}
	h.Drain()
	ran.Store(0)
	res, body := do(t, srv.Client(), "GET", srv.URL+"/readyz", nil, "")
	if res.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(body)) != `{"status":"draining"}` {
		t.Errorf("readyz after Drain = %d %s, want 503 {\"status\":\"draining\"}", res.StatusCode, body)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("readyz ran %d checks while draining, want none", n)
	}
	if res, _ := do(t, srv.Client(), "GET", srv.URL+"/livez", nil, ""); res.StatusCode != http.StatusOK {
		t.Errorf("livez after Drain = %d, want 200", res.StatusCode)
	}
}
