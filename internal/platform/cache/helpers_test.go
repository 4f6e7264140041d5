package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"emporium/internal/platform/ratelimit"
)

// redisURLEnv names the variable that points the tests at a Redis server,
// e.g. redis://127.0.0.1:6379/0. When it is set the Redis tests run, and fail
// when the server does not answer.
const redisURLEnv = "EMPORIUM_TEST_REDIS_URL"

// testRedisClient returns a client for the test server, closed at cleanup,
// or nil when redisURLEnv is not set. With contextTimeouts the client stops
// commands at their context's deadline (go-redis's ContextTimeoutEnabled);
// without, it is the client ratelimit.Open makes.
func testRedisClient(t testing.TB, contextTimeouts bool) *redis.Client {
	t.Helper()
	url := os.Getenv(redisURLEnv)
	if url == "" {
		return nil
	}
	client, err := ratelimit.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("%s is set but Redis does not answer: %v", redisURLEnv, err)
	}
	if contextTimeouts {
		client.Close()
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		opts.ContextTimeoutEnabled = true
		client = redis.NewClient(opts)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// requireRedis is testRedisClient for tests that only make sense with Redis.
func requireRedis(t testing.TB, contextTimeouts bool) *redis.Client {
	t.Helper()
	client := testRedisClient(t, contextTimeouts)
	if client == nil {
		t.Skipf("%s is not set", redisURLEnv)
	}
	return client
}

// testPrefix returns a key prefix no other test uses; its keys are deleted at
// cleanup.
func testPrefix(t testing.TB, client *redis.Client) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "emporium-test:cache:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("delete test keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// env is one fresh, empty store for a test, with what the test needs to
// watch it.
type env struct {
	store Store
	reg   *prometheus.Registry
	// clock moves the store's time by hand; nil for Redis, whose entries
	// expire by the server's clock.
	clock *fakeClock
}

// backend makes a fresh env of one kind.
type backend struct {
	name string
	env  func(t *testing.T) env
}

// backends returns the stores the shared behaviour runs against: Memory
// always, and Redis when it is configured, with a client that stops at
// deadlines and with one that does not (see Redis).
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{"memory", func(*testing.T) env {
		clock, reg := newFakeClock(), prometheus.NewRegistry()
		return env{
			store: NewMemory(MemoryOptions{Name: "test", Registerer: reg, Clock: clock.Now}),
			reg:   reg, clock: clock,
		}
	}}}
	if os.Getenv(redisURLEnv) == "" {
		return bs
	}
	for _, contextTimeouts := range []bool{false, true} {
		name := "redis"
		if contextTimeouts {
			name = "redis-context-timeouts"
		}
		client := testRedisClient(t, contextTimeouts)
		bs = append(bs, backend{name, func(t *testing.T) env {
			reg := prometheus.NewRegistry()
			return env{
				store: NewRedis(client, testPrefix(t, client), RedisOptions{
					Name: "test", Registerer: reg, Logger: testLogger(t, io.Discard),
					// Generous: a loaded CI machine must not turn a test into an
					// outage.
					Timeout: 2 * time.Second,
				}),
				reg: reg,
			}
		}})
	}
	return bs
}

// forEachBackend runs fn as a parallel subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, e env)) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.env(t))
		})
	}
}

// eventually polls cond every 5ms until it holds, failing the test when it
// does not within timeout.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string,
	args ...any) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("after %s: %s", timeout, fmt.Sprintf(msg, args...))
	}
}

// poll is eventually for goroutines that may not fail the test themselves.
func poll(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %s", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger logs to w, and to the test's output while verbose.
func testLogger(t testing.TB, w io.Writer) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		w = io.MultiWriter(w, t.Output())
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// counterValue returns the value of the counter name{labels} in reg, or 0.
func counterValue(t testing.TB, reg prometheus.Gatherer, name string,
	labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		// Errorf, not Fatalf: loaders call this from their own goroutines.
		t.Errorf("gather metrics: %v", err)
		return 0
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// requests returns emporium_cache_requests_total{result} of the cache "test".
func requests(t testing.TB, reg prometheus.Gatherer, result string) float64 {
	t.Helper()
	return counterValue(t, reg, requestsMetric, map[string]string{
		"cache": "test", "result": result})
}

// storeErrors returns emporium_cache_errors_total{op} of the cache "test".
func storeErrors(t testing.TB, reg prometheus.Gatherer, op string) float64 {
	t.Helper()
	return counterValue(t, reg, errorsMetric, map[string]string{"cache": "test", "op": op})
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hungServer accepts connections and never answers, like a Redis that is
// stuck or behind a network that drops packets. It closes them at cleanup.
func hungServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// proxy forwards TCP connections to a target and can be taken down (every
// connection cut, new ones closed at once) and brought back, to stage an
// outage of a real server.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true)
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	u, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(u) {
		c.Close()
		if u != nil {
			u.Close()
		}
		return
	}
	go func() { _, _ = io.Copy(u, c); u.Close() }()
	_, _ = io.Copy(c, u)
	c.Close()
}

// track records c for setDown, or reports false while down.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// waiters returns how many callers wait on the load of key in s.
func waiters(s Store, key string) int {
	flights.mu.Lock()
	defer flights.mu.Unlock()
	if f, ok := flights.m[flightKey{s, key}]; ok {
		return f.waiters
	}
	return 0
}

func TestMain(m *testing.M) {
	// go-redis logs every failed dial through its own global logger; the
	// outage tests cause many on purpose.
	redis.SetLogger(quietRedisLog{})
	os.Exit(m.Run())
}

type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}
