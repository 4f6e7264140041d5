package ratelimit

import (
	"io"
	"os"
	"testing"
	"time"

	"emporium/internal/platform/redistest"
	"emporium/internal/platform/testkit"
)

// asOpen makes test clients like the one redisconn.Open returns: each command
// stops at its context's deadline.
var asOpen = redistest.Options{ContextTimeouts: true}

// backends returns the stores the shared behaviour runs against: Memory
// always, and Redis (alone and behind a Fallback) when Redis is configured.
func backends(t *testing.T) []testkit.Backend[Store] {
	t.Helper()
	bs := []testkit.Backend[Store]{{Name: "memory", New: func(*testing.T) Store {
		return NewMemory(MemoryOptions{})
	}}}
	if redistest.URL() == "" {
		return bs
	}
	client := redistest.Client(t, asOpen)
	return append(bs,
		testkit.Backend[Store]{Name: "redis", New: func(t *testing.T) Store {
			return NewRedis(client, redistest.Prefix(t, client, "ratelimit"))
		}},
		testkit.Backend[Store]{Name: "fallback", New: func(t *testing.T) Store {
			// These tests are about counting, not outages: with the default
			// 250ms Timeout, a loaded machine (-race, 50 goroutines) makes
			// some calls fall back to the local counts, and exact counts off.
			return NewFallback(NewRedis(client, redistest.Prefix(t, client, "ratelimit")),
				FallbackOptions{Logger: testkit.Logger(t, io.Discard), Timeout: 10 * time.Second})
		}},
	)
}

// forEachBackend runs fn as a parallel subtest per backend, with a fresh,
// empty Store.
func forEachBackend(t *testing.T, fn func(t *testing.T, s Store)) {
	t.Helper()
	testkit.ForEach(t, backends(t), fn)
}

// elapseUntil lets the clock reach at. It spaces events apart in time to build
// a scenario; it never waits for a result (testkit.Eventually does that).
func elapseUntil(at time.Time) {
	time.Sleep(time.Until(at))
}

func TestMain(m *testing.M) {
	// The outage tests make go-redis log many failed dials on purpose.
	redistest.SilenceLogger()
	os.Exit(m.Run())
}
