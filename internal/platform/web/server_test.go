package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// refused reports whether a new TCP connection to addr is refused.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	_ = c.Close()
	return false
}

type slowServer struct {
	srv     *Server
	started chan struct{}
	release chan struct{}
	client  *http.Client
}

func newSlowServer(t *testing.T, shutdownTimeout time.Duration) *slowServer {
	t.Helper()
	s := &slowServer{started: make(chan struct{}), release: make(chan struct{})}
	rt := NewRouter()
	rt.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) error {
		close(s.started)
		<-s.release
		return JSON(w, http.StatusOK, map[string]string{"status": "done"})
	})
	reg := prometheus.NewRegistry()
	internal := NewRouter()
	internal.Handle("GET /metrics", MetricsHandler(reg))
	logger := slog.New(slog.DiscardHandler)
	s.srv = NewServer(ServerConfig{
		Name:       "test",
		PublicAddr: "127.0.0.1:0", InternalAddr: "127.0.0.1:0",
		Public:          Stack(rt, StackConfig{Logger: logger, Registerer: reg}),
		Internal:        internal,
		Logger:          logger,
		ShutdownTimeout: shutdownTimeout,
	})
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	s.client = &http.Client{Transport: transport}
	return s
}

type result struct {
	status int
	err    error
}

// get sends a request in the background.
func (s *slowServer) get(url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		res, err := s.client.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		_ = res.Body.Close()
		out <- result{status: res.StatusCode}
	}()
	return out
}

func TestServerGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := newSlowServer(t, 10*time.Second)
	if err := s.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	public, internal := s.srv.PublicAddr(), s.srv.InternalAddr()
	if public == "" || internal == "" || public == internal {
		t.Fatalf("addresses before Serve: public %q, internal %q", public, internal)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ctx) }()

	if r := <-s.get("http://" + internal + "/metrics"); r.err != nil || r.status != 200 {
		t.Fatalf("internal /metrics = %+v, want 200", r)
	}
	inFlight := s.get("http://" + public + "/slow")
	<-s.started
	cancel()

	waitFor(t, 5*time.Second, "new connections to be refused", func() bool {
		return refused(public) && refused(internal)
	})
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v before the in-flight request finished", err)
	default:
	}
	close(s.release)

	if r := <-inFlight; r.err != nil || r.status != http.StatusOK {
		t.Errorf("in-flight request = %+v, want 200", r)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after a clean shutdown", err)
	}
}

func TestServerShutdownTimeout(t *testing.T) {
	t.Parallel()
	s := newSlowServer(t, 50*time.Millisecond)
	t.Cleanup(func() { close(s.release) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(ctx) }()
	inFlight := s.get("http://" + s.srv.PublicAddr() + "/slow")
	<-s.started
	cancel()
	if err := <-served; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want the shutdown deadline exceeded", err)
	}
	if r := <-inFlight; r.err == nil {
		t.Errorf("request cut off by shutdown = %+v, want a connection error", r)
	}
}

func TestServerListenErrors(t *testing.T) {
	t.Parallel()
	ok := http.NotFoundHandler()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = taken.Close() })

	tests := []struct {
		name string
		cfg  ServerConfig
	}{
		{"no public handler", ServerConfig{PublicAddr: "127.0.0.1:0"}},
		{"address in use", ServerConfig{PublicAddr: "127.0.0.1:0", Public: ok,
			InternalAddr: taken.Addr().String(), Internal: ok}},
	}
	for _, tt := range tests {
		srv := NewServer(tt.cfg)
		if err := srv.Listen(); err == nil {
			t.Errorf("%s: Listen succeeded", tt.name)
		}
		if srv.PublicAddr() != "" {
			t.Errorf("%s: public listener left open at %s", tt.name, srv.PublicAddr())
		}
	}
}

func TestServerServeListens(t *testing.T) {
	t.Parallel()
	srv := NewServer(ServerConfig{Name: "solo", PublicAddr: "127.0.0.1:0",
		Public: http.NotFoundHandler(), Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if srv.InternalAddr() != "" {
		t.Errorf("InternalAddr = %q without an internal handler", srv.InternalAddr())
	}
}
