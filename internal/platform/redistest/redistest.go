// Package redistest gives tests the Redis server at EMPORIUM_TEST_REDIS_URL:
// a client that fails the test when the variable is set but the server does
// not answer, key prefixes of their own that are deleted at cleanup, and ways
// to stage an outage (a closed address, a proxy that can be taken down).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"emporium/internal/platform/redisconn"
)

// URLEnv names the variable that points the tests at a Redis server, e.g.
// redis://127.0.0.1:6379/0. When it is set the Redis tests run, and fail when
// the server does not answer.
const URLEnv = "EMPORIUM_TEST_REDIS_URL"

// URL returns the Redis server the tests use, or "".
func URL() string { return os.Getenv(URLEnv) }

// pingTimeout bounds the ping that checks the server answers.
const pingTimeout = 5 * time.Second

// Options configure the client Client returns.
type Options struct {
	// ContextTimeouts makes the client stop each command at its context's
	// deadline (go-redis's ContextTimeoutEnabled), as redisconn.Open's
	// client does. Without it go-redis ignores deadlines and a command ends
	// only at the client's own timeouts.
	ContextTimeouts bool
}

// Client returns a client for the server at URLEnv, closed at cleanup, or nil
// when URLEnv is not set. It fails the test when the server does not answer a
// ping.
func Client(t testing.TB, opts Options) *redis.Client {
	t.Helper()
	u := URL()
	if u == "" {
		return nil
	}
	o, err := redisconn.ParseURL(u)
	if err != nil {
		t.Fatalf("%s is not a Redis URL: %v", URLEnv, err)
	}
	o.ContextTimeoutEnabled = opts.ContextTimeouts
	client := redis.NewClient(o)
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s is set but Redis does not answer: %v", URLEnv, err)
	}
	return client
}

// Require is Client for tests that only make sense with Redis: it skips the
// test when URLEnv is not set.
func Require(t testing.TB, opts Options) *redis.Client {
	t.Helper()
	client := Client(t, opts)
	if client == nil {
		t.Skipf("%s is not set", URLEnv)
	}
	return client
}

// Prefix returns a key prefix no other test uses, "emporium-test:<pkg>:<random>:",
// and deletes the keys under it through client at cleanup.
func Prefix(t testing.TB, client *redis.Client, pkg string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "emporium-test:" + pkg + ":" + hex.EncodeToString(b) + ":"
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

// ClosedAddr returns a local address nothing listens on: connections to it
// are refused.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// SilenceLogger discards what go-redis logs through its global logger, such
// as every failed dial, which outage tests cause on purpose. The logger is
// process-wide: call SilenceLogger from TestMain, before any test runs.
func SilenceLogger() { redis.SetLogger(quiet{}) }

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}
