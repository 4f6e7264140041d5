package ratelimit

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
)

// redisURLEnv names the variable that points the tests at a Redis server,
// e.g. redis://127.0.0.1:6379/0. When it is set the Redis tests run, and fail
// when the server does not answer.
const redisURLEnv = "EMPORIUM_TEST_REDIS_URL"

// testRedisClient returns a client for the test server, closed at cleanup,
// or nil when redisURLEnv is not set.
func testRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv(redisURLEnv)
	if url == "" {
		return nil
	}
	client, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("%s is set but Redis does not answer: %v", redisURLEnv, err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// requireRedis is testRedisClient for tests that only make sense with Redis.
func requireRedis(t testing.TB) *redis.Client {
	t.Helper()
	client := testRedisClient(t)
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
	prefix := "emporium-test:ratelimit:" + hex.EncodeToString(b) + ":"
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

// backend makes a fresh, empty Store of one kind for a test.
type backend struct {
	name  string
	store func(t *testing.T) Store
}

// backends returns the stores the shared behaviour runs against: Memory
// always, and Redis (alone and behind a Fallback) when Redis is configured.
func backends(t *testing.T) []backend {
	t.Helper()
	bs := []backend{{"memory", func(*testing.T) Store {
		return NewMemory(MemoryOptions{})
	}}}
	if os.Getenv(redisURLEnv) == "" {
		return bs
	}
	client := testRedisClient(t)
	return append(bs,
		backend{"redis", func(t *testing.T) Store {
			return NewRedis(client, testPrefix(t, client))
		}},
		backend{"fallback", func(t *testing.T) Store {
			return NewFallback(NewRedis(client, testPrefix(t, client)),
				FallbackOptions{Logger: testLogger(t, io.Discard)})
		}},
	)
}

// forEachBackend runs fn as a parallel subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, s Store)) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.store(t))
		})
	}
}

// eventually polls cond every 5ms until it holds, failing the test when it
// does not within timeout.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string,
	args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, fmt.Sprintf(msg, args...))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// elapseUntil lets the clock reach at. It spaces events apart in time to build
// a scenario; it never waits for a result (eventually does that).
func elapseUntil(at time.Time) {
	time.Sleep(time.Until(at))
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
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
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

func TestMain(m *testing.M) {
	// go-redis logs every failed dial through its own global logger; the
	// outage tests cause many on purpose.
	redis.SetLogger(quietRedisLog{})
	os.Exit(m.Run())
}

type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}
