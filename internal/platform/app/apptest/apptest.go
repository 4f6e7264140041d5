// Package apptest runs a service in a test as it runs in production — through
// app.ServeService, on real listeners, with the middleware stack, the outbox
// relay and a NATS server — and talks to it over HTTP.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/testkit"
)

// NATS starts an embedded NATS server with JetStream that listens on
// loopback, stopped at cleanup, and returns its URL.
func NATS(t testing.TB) string {
	t.Helper()
	nats, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: filepath.Join(t.TempDir(), "nats"), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	return nats.ClientURL()
}

// Server is a unit being served for a test.
type Server struct {
	URL         string // the public listener
	InternalURL string // the internal listener
	Logs        *LogWriter
	stop        func()
}

// Listen binds a public and an internal listener on loopback, so a test
// knows the URLs (for a JWKS URL, say) before it serves.
func Listen(t testing.TB) app.Listeners {
	t.Helper()
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	internal, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return app.Listeners{Public: pub, Internal: internal}
}

// URLs returns the base URLs of listeners.
func URLs(ln app.Listeners) (public, internal string) {
	return "http://" + ln.Public.Addr().String(), "http://" + ln.Internal.Addr().String()
}

// Serve runs u on ln with base until the test ends, waits until it is ready,
// and stops it at cleanup (Stop stops it earlier). base's ShutdownTimeout
// defaults to 10 seconds: more than the 5 seconds after which a server takes
// a connection that never carried a request for idle.
func Serve(t testing.TB, u app.Unit, base app.Base, ln app.Listeners) *Server {
	t.Helper()
	if base.ShutdownTimeout == 0 {
		base.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{Logs: &LogWriter{t: t}}
	s.URL, s.InternalURL = URLs(ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.ServeService(ctx, u, base, ln, s.Logs.Logger()) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			// Connections the test's client opened but never used would hold
			// up the graceful shutdown; close them first.
			if tr, ok := http.DefaultTransport.(*http.Transport); ok {
				tr.CloseIdleConnections()
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s stopped with %v", u.Name, err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("%s did not stop", u.Name)
			}
		})
	}
	t.Cleanup(s.stop)
	ready := func() bool {
		res, err := http.Get(s.URL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case err := <-done:
			once.Do(func() {})
			t.Fatalf("%s did not start: %v", u.Name, err)
		case <-deadline:
			t.Fatalf("%s was not ready within 10s", u.Name)
		case <-tick.C:
		}
	}
	return s
}

// Stop stops the server and waits for it; it is safe to call twice.
func (s *Server) Stop() { s.stop() }

// Response is an answer a test got.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it cannot.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem returns a problem body's code and the fields its errors name.
func (r Response) Problem(t testing.TB) (code string, fields []string) {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	r.JSON(t, &p)
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	return p.Code, fields
}

// Client sends requests for a test.
type Client struct {
	T    testing.TB
	HTTP *http.Client // http.DefaultClient when nil
}

// Do sends a request with a body — a string is sent as it is, anything else
// is marshalled as JSON — and headers given as name, value pairs.
func (c Client) Do(method, url string, body any, headers ...string) Response {
	c.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.T.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.T.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Expect checks a response's status and, when code is not empty, its
// problem code.
func Expect(t testing.TB, r Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if code != "" {
		if got, _ := r.Problem(t); got != code {
			t.Fatalf("code %q, want %q: %s", got, code, r.Body)
		}
	}
}

// Eventually polls cond until it holds, failing the test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, cond, "timed out waiting until %s", what)
}

// LogWriter sends a service's logs to the test's log and keeps them, for
// tests that read them.
type LogWriter struct {
	mu  sync.Mutex
	t   testing.TB
	buf bytes.Buffer
}

// NewLogWriter returns a LogWriter for t.
func NewLogWriter(t testing.TB) *LogWriter { return &LogWriter{t: t} }

// Logger returns a JSON logger writing to w.
func (w *LogWriter) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// Write logs p to the test and keeps it.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.t.Logf("%s", bytes.TrimSpace(p))
	return len(p), nil
}

// String returns everything logged so far.
func (w *LogWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
