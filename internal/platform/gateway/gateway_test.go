package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/web"
)

func TestGateway(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", "from-upstream")
		io.WriteString(w, r.URL.Path+" xff="+r.Header.Get("X-Forwarded-For"))
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	probes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "probe") })
	closed := &url.URL{Scheme: "http", Host: "127.0.0.1:1"}
	g := New([]Route{{Path: "/api/v1/things/", Target: target}, {Path: "/api/v1/down/", Target: closed}},
		probes, slog.New(slog.DiscardHandler))
	front := httptest.NewServer(g)
	defer front.Close()

	get := func(path string, h ...string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	tests := []struct {
		name, path string
		headers    []string
		status     int
		body       string // a substring
	}{
		{"routed", "/api/v1/things/1", nil, 200, "/api/v1/things/1 xff=127.0.0.1"},
		{"a proxy's hops kept, the client added", "/api/v1/things/1", []string{"X-Forwarded-For", "198.51.100.7"},
			200, "xff=198.51.100.7, 127.0.0.1"},
		{"probes", "/readyz", nil, 200, "probe"},
		{"unrouted", "/api/v1/nothing", nil, 404, `"code":"not_found"`},
		{"service down", "/api/v1/down/x", nil, 503, `"code":"unavailable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := get(tt.path, tt.headers...)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Errorf("%s: %d %q, want %d containing %q", tt.path, status, body, tt.status, tt.body)
			}
		})
	}
	if _, _, h := get("/api/v1/things/1"); len(h.Values("X-Request-ID")) != 0 {
		t.Errorf("the service's X-Request-ID leaked through: %q (the front door's stack sets its own)", h.Values("X-Request-ID"))
	}
}

// TestGatewaySlowService: a service that does not answer within the request
// deadline is a 503 unavailable problem with Retry-After, not an empty 499
// (the front door's own deadline is not a client that left).
func TestGatewaySlowService(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the front door gives up
	}))
	defer slow.Close()
	target, _ := url.Parse(slow.URL)
	g := New([]Route{{Path: "/api/v1/slow/", Target: target}}, http.NotFoundHandler(),
		slog.New(slog.DiscardHandler))
	front := httptest.NewServer(web.Stack(g, web.StackConfig{
		Logger: slog.New(slog.DiscardHandler), RequestTimeout: 50 * time.Millisecond}))
	defer front.Close()

	res, err := http.Get(front.URL + "/api/v1/slow/x")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p web.Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatalf("status %d, body is not a problem: %v", res.StatusCode, err)
	}
	if res.StatusCode != http.StatusServiceUnavailable || p.Code != "unavailable" ||
		res.Header.Get("Retry-After") == "" {
		t.Errorf("status %d, code %q, Retry-After %q; want 503 unavailable with Retry-After",
			res.StatusCode, p.Code, res.Header.Get("Retry-After"))
	}
}

// TestGatewayClientGone: a client that left gets no answer; the status the
// access log and metrics record is 499.
func TestGatewayClientGone(t *testing.T) {
	reached := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(reached)
		<-r.Context().Done()
	}))
	defer slow.Close()
	target, _ := url.Parse(slow.URL)
	g := New([]Route{{Path: "/api/v1/slow/", Target: target}}, http.NotFoundHandler(),
		slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-reached
		cancel()
	}()
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/api/v1/slow/x", nil))
	if rec.Code != web.StatusClientClosed || rec.Body.Len() != 0 {
		t.Errorf("status %d, body %q; want %d and no body", rec.Code, rec.Body, web.StatusClientClosed)
	}
}

// TestGatewayInProcess: a route served in process reaches its handler as it
// is, outside the front door's own middleware, which wraps only what the
// front door answers itself; the longest pattern wins whichever kind it is.
func TestGatewayInProcess(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "proxied")
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	local := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	wrapped := 0
	g := NewFront(Config{
		Routes: []Route{
			{Path: "/api/v1/users/", Handler: local("identity")},
			{Path: "/api/v1/users/me/notifications", Handler: local("notifications")},
			{Path: "/api/v1/users/me/elsewhere", Target: target},
		},
		Probes: local("probe"),
		Logger: slog.New(slog.DiscardHandler),
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				wrapped++
				h.ServeHTTP(w, r)
			})
		},
	})
	tests := []struct {
		name, method, path string
		length             int64
		status             int
		body               string // a substring
		wrapped            bool
	}{
		{"in process", "GET", "/api/v1/users/me", 0, 200, "identity", false},
		{"the longer in-process pattern", "GET", "/api/v1/users/me/notifications", 0, 200, "notifications", false},
		{"the longer proxied pattern", "GET", "/api/v1/users/me/elsewhere", 0, 200, "proxied", true},
		{"probes", "GET", "/readyz", 0, 200, "probe", true},
		{"unrouted", "GET", "/api/v1/nothing", 0, 404, `"code":"not_found"`, true},
		{"too large", "POST", "/api/v1/users/me", web.MaxBodyBytes + 1, 413, `"code":"body_too_large"`, true},
		{"a path to clean", "GET", "/api/v1/users/./me", 0, 307, "/api/v1/users/me", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped = 0
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(""))
			req.ContentLength = tt.length
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("%s: %d %q, want %d containing %q", tt.path, rec.Code, rec.Body, tt.status, tt.body)
			}
			if got := wrapped == 1; got != tt.wrapped || wrapped > 1 {
				t.Errorf("%s: the front door's middleware ran %d times; want wrapped %v, once at most",
					tt.path, wrapped, tt.wrapped)
			}
		})
	}
}

// BenchmarkGatewayInProcess is the front door's cost of handing a request
// to a service in the same process.
func BenchmarkGatewayInProcess(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	g := NewFront(Config{Routes: []Route{
		{Path: "/api/v1/products", Handler: ok}, {Path: "/api/v1/products/", Handler: ok},
		{Path: "/api/v1/cart/", Handler: ok}, {Path: "/api/v1/users/", Handler: ok},
	}, Probes: ok})
	req := httptest.NewRequest("GET", "/api/v1/products/0192f0aa-1111-7000-8000-000000000001", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		g.ServeHTTP(w, req)
	}
}

// TestGatewayInProcessStack: a service served in process answers what the
// front door answered for it when it proxied — its own middleware does: a
// request past its deadline is 503 unavailable with Retry-After, a panic a
// 500 problem, each with the request id.
func TestGatewayInProcessStack(t *testing.T) {
	svc := web.NewRouter()
	svc.HandleFunc("GET /api/v1/slow/x", func(w http.ResponseWriter, r *http.Request) error {
		<-r.Context().Done()
		return r.Context().Err()
	})
	svc.HandleFunc("GET /api/v1/slow/panic", func(w http.ResponseWriter, r *http.Request) error {
		panic("bug")
	})
	quiet := slog.New(slog.DiscardHandler)
	handler := web.Stack(svc, web.StackConfig{Logger: quiet, RequestTimeout: 50 * time.Millisecond})
	front := httptest.NewServer(NewFront(Config{Routes: []Route{{Path: "/api/v1/slow/", Handler: handler}},
		Probes: http.NotFoundHandler(), Logger: quiet}))
	defer front.Close()
	tests := []struct {
		path       string
		status     int
		code       string
		retryAfter bool
	}{
		{"/api/v1/slow/x", http.StatusServiceUnavailable, "unavailable", true},
		{"/api/v1/slow/panic", http.StatusInternalServerError, "internal", false},
	}
	for _, tt := range tests {
		res, err := http.Get(front.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		var p web.Problem
		err = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if err != nil || res.StatusCode != tt.status || p.Code != tt.code ||
			(res.Header.Get("Retry-After") != "") != tt.retryAfter || res.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s: %d %q (%v), Retry-After %q, X-Request-ID %q; want %d %s, Retry-After %v, an id",
				tt.path, res.StatusCode, p.Code, err, res.Header.Get("Retry-After"),
				res.Header.Get("X-Request-ID"), tt.status, tt.code, tt.retryAfter)
		}
	}
}
