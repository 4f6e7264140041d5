package cache

import (
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/redistest"
	"emporium/internal/platform/testkit"
)

// The two kinds of test client. Redis takes a different path for each.
var (
	// bounded stops each command at its context's deadline
	// (ContextTimeoutEnabled), as redisconn.Open's client does.
	bounded = redistest.Options{ContextTimeouts: true}
	// unbounded ignores deadlines, so Redis runs each call in a goroutine of
	// its own and abandons it at the store's Timeout.
	unbounded = redistest.Options{}
)

// env is one fresh, empty store for a test, with what the test needs to
// watch it.
type env struct {
	store Store
	reg   *prometheus.Registry
	// clock moves the store's time by hand; nil for Redis, whose entries
	// expire by the server's clock.
	clock *testkit.Clock
}

// backends returns the stores the shared behaviour runs against: Memory
// always, and Redis when it is configured, with a client that stops at
// deadlines and with one that does not (see Redis).
func backends(t *testing.T) []testkit.Backend[env] {
	t.Helper()
	bs := []testkit.Backend[env]{{Name: "memory", New: func(*testing.T) env {
		clock, reg := testkit.NewClock(), prometheus.NewRegistry()
		return env{
			store: NewMemory(MemoryOptions{Name: "test", Registerer: reg, Clock: clock.Now}),
			reg:   reg, clock: clock,
		}
	}}}
	if redistest.URL() == "" {
		return bs
	}
	clients := []struct {
		name string
		opts redistest.Options
	}{{"redis", unbounded}, {"redis-context-timeouts", bounded}}
	for _, c := range clients {
		client := redistest.Client(t, c.opts)
		bs = append(bs, testkit.Backend[env]{Name: c.name, New: func(t *testing.T) env {
			reg := prometheus.NewRegistry()
			return env{
				store: NewRedis(client, redistest.Prefix(t, client, "cache"), RedisOptions{
					Name: "test", Registerer: reg, Logger: testkit.Logger(t, io.Discard),
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

// forEachBackend runs fn as a parallel subtest per backend, with a fresh env.
func forEachBackend(t *testing.T, fn func(t *testing.T, e env)) {
	t.Helper()
	testkit.ForEach(t, backends(t), fn)
}

// requests returns emporium_cache_requests_total{result} of the cache "test".
func requests(t testing.TB, reg prometheus.Gatherer, result string) float64 {
	t.Helper()
	return testkit.CounterValue(t, reg, requestsMetric, map[string]string{
		"cache": "test", "result": result})
}

// storeErrors returns emporium_cache_errors_total{op} of the cache "test".
func storeErrors(t testing.TB, reg prometheus.Gatherer, op string) float64 {
	t.Helper()
	return testkit.CounterValue(t, reg, errorsMetric, map[string]string{"cache": "test", "op": op})
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
	// The outage tests make go-redis log many failed dials on purpose.
	redistest.SilenceLogger()
	os.Exit(m.Run())
}
