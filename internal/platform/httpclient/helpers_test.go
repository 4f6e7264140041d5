package httpclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"emporium/internal/platform/errs"
)

// hit is one request as the test server saw it.
type hit struct {
	at     time.Time
	method string
	path   string
	header http.Header
	body   []byte
}

// server is an httptest server that records every request before answering
// it with handle, which is told the request's 1-based number.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newServer(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.hits = append(s.hits, hit{at: time.Now(), method: r.Method, path: r.URL.RequestURI(),
			header: r.Header.Clone(), body: body})
		n := len(s.hits)
		s.mu.Unlock()
		handle(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hits)
}

func (s *server) recorded() []hit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]hit(nil), s.hits...)
}

// status answers every request with code and an optional Retry-After.
func status(code int, retryAfter string) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
	}
}

// failThen answers the first failures requests with code and the rest with
// 200 and a small JSON body.
func failThen(failures, code int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= failures {
			w.WriteHeader(code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}
}

// testClient is a Client with its registry and captured logs.
type testClient struct {
	*Client
	reg  *prometheus.Registry
	logs *logSink
}

// newClient returns a Client for s with test-sized backoffs; edit adjusts the
// Config first.
func newClient(t *testing.T, s *server, edit func(*Config)) *testClient {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &logSink{}
	cfg := Config{
		Name:        "catalog",
		BaseURL:     s.URL,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
		Registerer:  reg,
		Logger: slog.New(slog.NewJSONHandler(logs,
			&slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	return &testClient{Client: New(cfg), reg: reg, logs: logs}
}

// logSink collects JSON log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns the logged records whose message is msg.
func (l *logSink) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// metric returns the series of family name with exactly these labels, or nil.
func metric(t *testing.T, reg prometheus.Gatherer, name string,
	labels map[string]string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func breakerGauge(t *testing.T, c *testClient) float64 {
	t.Helper()
	m := metric(t, c.reg, "http_client_breaker_state", map[string]string{"peer": c.Name()})
	if m == nil {
		t.Fatal("no http_client_breaker_state series")
	}
	return m.GetGauge().GetValue()
}

func retries(t *testing.T, c *testClient) float64 {
	t.Helper()
	m := metric(t, c.reg, "http_client_retries_total", map[string]string{"peer": c.Name()})
	if m == nil {
		t.Fatal("no http_client_retries_total series")
	}
	return m.GetCounter().GetValue()
}

// asError returns err's *errs.Error, failing the test if there is none.
func asError(t *testing.T, err error) *errs.Error {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *errs.Error", err, err)
	}
	return e
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func testContext(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}
