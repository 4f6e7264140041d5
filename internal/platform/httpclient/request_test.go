package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"emporium/internal/platform/errs"
)

func TestHeadersAndTraceContext(t *testing.T) {
	t.Parallel()
	s := newServer(t, status(http.StatusNoContent, ""))
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	c := newClient(t, s, func(cfg *Config) {
		cfg.BaseURL = s.URL + "/" // a trailing slash is harmless
		cfg.Header = http.Header{
			"X-Emporium-Service-Token": {"secret-token"},
			"X-Overridden":             {"from config"},
		}
		cfg.TracerProvider = tp
		cfg.Propagator = propagation.TraceContext{}
	})
	ctx, span := tp.Tracer("test").Start(testContext(t, 10*time.Second), "checkout")
	defer span.End()

	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/internal/reservations?x=1",
		Header: http.Header{"X-Overridden": {"from request"}}, IdempotencyKey: "key-1",
		Body: map[string]int{"n": 1}})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	h := s.recorded()[0]
	tests := []struct{ name, got, want string }{
		{"path", h.path, "/internal/reservations?x=1"},
		{"X-Emporium-Service-Token", h.header.Get("X-Emporium-Service-Token"), "secret-token"},
		{"X-Overridden", strings.Join(h.header.Values("X-Overridden"), ","), "from request"},
		{"Idempotency-Key", h.header.Get("Idempotency-Key"), "key-1"},
		{"Content-Type", h.header.Get("Content-Type"), "application/json"},
		{"Accept", h.header.Get("Accept"), "application/json, application/problem+json"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	// traceparent: version-traceid-spanid-flags, in the caller's trace.
	parts := strings.Split(h.header.Get("Traceparent"), "-")
	if len(parts) != 4 || parts[1] != span.SpanContext().TraceID().String() {
		t.Errorf("traceparent = %q, want one in trace %s", h.header.Get("Traceparent"),
			span.SpanContext().TraceID())
	}
}

func TestBodiesAreResentIntact(t *testing.T) {
	t.Parallel()
	type reservation struct {
		ReservationID string           `json:"reservation_id"`
		Items         []map[string]any `json:"items"`
	}
	in := reservation{ReservationID: "r-1", Items: []map[string]any{
		{"product_id": "p1", "quantity": 2.0}, {"product_id": "p2", "quantity": 1.0}}}
	want, _ := json.Marshal(in)
	tests := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{"POST with key", func(ctx context.Context, c *Client) error {
			return c.PostJSON(ctx, "/internal/reservations", "r-1", in, nil)
		}},
		{"PUT", func(ctx context.Context, c *Client) error {
			return c.PutJSON(ctx, "/internal/reservations/r-1", in, nil)
		}},
		{"PATCH with key", func(ctx context.Context, c *Client) error {
			return c.PatchJSON(ctx, "/internal/reservations/r-1", "r-1", in, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, failThen(2, http.StatusGatewayTimeout))
			c := newClient(t, s, nil)
			if err := tt.call(testContext(t, 10*time.Second), c.Client); err != nil {
				t.Fatalf("call: %v", err)
			}
			hits := s.recorded()
			if len(hits) != 3 {
				t.Fatalf("server saw %d requests, want 3", len(hits))
			}
			for i, h := range hits {
				if !bytes.Equal(h.body, want) {
					t.Errorf("attempt %d body = %s, want %s", i+1, h.body, want)
				}
			}
		})
	}
}

func TestDecodeAnswer(t *testing.T) {
	t.Parallel()
	type product struct {
		ID    string `json:"id"`
		Price int64  `json:"price"`
	}
	tests := []struct {
		name     string
		status   int
		body     string
		out      *product
		want     *product
		wantKind errs.Kind
	}{
		{"200 decodes", 200, `{"id":"p1","price":1999}`, &product{}, &product{"p1", 1999}, -1},
		{"201 decodes", 201, `{"id":"p2","price":5}`, &product{}, &product{"p2", 5}, -1},
		{"204 leaves out alone", 204, ``, &product{ID: "x"}, &product{ID: "x"}, -1},
		{"nil out discards", 200, `{"id":"p1"}`, nil, nil, -1},
		{"bad JSON is an internal error", 200, `{"id":`, &product{}, nil, errs.Other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := newClient(t, s, nil)
			var out any
			if tt.out != nil {
				out = tt.out
			}
			resp, err := c.Do(testContext(t, 10*time.Second),
				Request{Method: http.MethodGet, Path: "/internal/products/p1", Out: out})
			if tt.wantKind >= 0 {
				if got := asError(t, err).Kind; got != tt.wantKind {
					t.Errorf("kind = %v, want %v", got, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.want != nil && *tt.out != *tt.want {
				t.Errorf("out = %+v, want %+v", *tt.out, *tt.want)
			}
		})
	}
}

func TestRequestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	catalogSrv := newServer(t, failThen(1, http.StatusServiceUnavailable))
	cartSrv := newServer(t, status(http.StatusNotFound, ""))
	catalog := newClient(t, catalogSrv, func(cfg *Config) { cfg.Registerer = reg })
	cart := newClient(t, cartSrv, func(cfg *Config) { cfg.Name, cfg.Registerer = "cart", reg })
	ctx := testContext(t, 10*time.Second)

	if err := catalog.GetJSON(ctx, "/internal/products", nil); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	_ = cart.Delete(ctx, "/internal/carts/c1")

	tests := []struct {
		peer, method, code string
		want               uint64
	}{
		{"catalog", "GET", "503", 1},
		{"catalog", "GET", "200", 1},
		{"cart", "DELETE", "404", 1},
	}
	for _, tt := range tests {
		m := metric(t, reg, "http_client_request_duration_seconds",
			map[string]string{"peer": tt.peer, "method": tt.method, "code": tt.code})
		if got := m.GetHistogram().GetSampleCount(); got != tt.want {
			t.Errorf("duration samples {%s %s %s} = %d, want %d", tt.peer, tt.method, tt.code,
				got, tt.want)
		}
	}
	for peer, want := range map[string]float64{"catalog": 1, "cart": 0} {
		m := metric(t, reg, "http_client_retries_total", map[string]string{"peer": peer})
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("retries {%s} = %v, want %v", peer, got, want)
		}
		m = metric(t, reg, "http_client_breaker_state", map[string]string{"peer": peer})
		if m == nil || m.GetGauge().GetValue() != 0 {
			t.Errorf("breaker state {%s} = %v, want 0", peer, m)
		}
	}

	srv := newServer(t, status(http.StatusOK, ""))
	srv.Close()
	_ = newClient(t, srv, func(cfg *Config) { cfg.Registerer = reg }).GetJSON(ctx, "/", nil)
	m := metric(t, reg, "http_client_request_duration_seconds",
		map[string]string{"peer": "catalog", "method": "GET", "code": "error"})
	if got := m.GetHistogram().GetSampleCount(); got != DefaultMaxAttempts {
		t.Errorf("error samples = %d, want %d", got, DefaultMaxAttempts)
	}
}

func TestBadRequestIsNotSent(t *testing.T) {
	t.Parallel()
	s := newServer(t, status(http.StatusOK, ""))
	c := newClient(t, s, func(cfg *Config) { cfg.Breaker.Failures = 1 })
	ctx := testContext(t, 10*time.Second)
	tests := []Request{
		{Method: "GET", Path: "/%zz"},
		{Method: "BAD METHOD", Path: "/"},
		{Method: "POST", Path: "/", Body: func() {}},
	}
	for _, r := range tests {
		if _, err := c.Do(ctx, r); errs.KindOf(err) != errs.Other {
			t.Errorf("Do(%q %q) error = %v, want an internal error", r.Method, r.Path, err)
		}
	}
	if err := c.Check(ctx); err != nil {
		t.Errorf("Check = %v; a bad request must not open the breaker", err)
	}
	if got := s.count(); got != 0 {
		t.Errorf("server saw %d requests, want 0", got)
	}
}
