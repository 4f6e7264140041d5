package ratelimit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"emporium/internal/platform/redistest"
	"emporium/internal/platform/testkit"
)

const storeErrors = "emporium_ratelimit_store_errors_total"

// unreachableClient returns a Redis client pointed at a closed port. With
// go-redis's default retries each command takes about 400ms to fail; opts
// may change them.
func unreachableClient(t testing.TB, opts ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: redistest.ClosedAddr(t)}
	for _, opt := range opts {
		opt(o)
	}
	client := redis.NewClient(o)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func TestFallbackFailsOpenWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	var logs testkit.SyncBuffer
	reg := prometheus.NewRegistry()
	f := NewFallback(NewRedis(unreachableClient(t), "x:"), FallbackOptions{
		Logger: testkit.Logger(t, &logs), Registerer: reg, Clock: clock.Now,
		Cooldown: 5 * time.Second,
	})
	ctx := context.Background()
	key := "login:acct:a@example.com"
	l := Limit{Max: 3, Window: time.Minute}
	redisErrors := func() float64 {
		return testkit.CounterValue(t, reg, storeErrors, map[string]string{"backend": "redis"})
	}

	// A correct password is never refused for lack of Redis...
	if got, err := f.Check(ctx, key, l); err != nil || got != (Result{}) {
		t.Fatalf("check with Redis down = %+v, %v; want not limited, no error", got, err)
	}
	// ...but the process still throttles what it sees itself.
	tests := []Result{
		{Count: 1}, {Count: 2}, {Count: 3, Limited: true, RetryAfter: l.Window},
	}
	for i, want := range tests {
		got, err := f.Hit(ctx, key, l)
		got.ID = ""
		if err != nil || got != want {
			t.Errorf("hit %d with Redis down = %+v, %v; want %+v", i+1, got, err, want)
		}
	}
	if got, err := f.Check(ctx, key, l); err != nil || !got.Limited {
		t.Errorf("check after Max hits = %+v, %v; want limited", got, err)
	}

	// One failure, then Redis is left alone for the cooldown: one error, one
	// warning, and the key never appears in the logs.
	if got := redisErrors(); got != 1 {
		t.Errorf("%s{backend=redis} = %v, want 1", storeErrors, got)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 ||
		!strings.Contains(out, "counting in this process only") {
		t.Errorf("logs = %q, want one warning about counting in this process", out)
	}
	if strings.Contains(out, "example.com") {
		t.Errorf("logs show the key: %q", out)
	}

	// After the cooldown Redis is tried again, and fails again.
	clock.Advance(5 * time.Second)
	if got, err := f.Check(ctx, key, l); err != nil || !got.Limited {
		t.Errorf("check after the cooldown = %+v, %v; want limited", got, err)
	}
	if got := redisErrors(); got != 2 {
		t.Errorf("%s{backend=redis} = %v after the cooldown, want 2", storeErrors, got)
	}

	// A successful login still clears the account in this process.
	if err := f.Reset(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Check(ctx, key, l); err != nil || got != (Result{}) {
		t.Errorf("check after reset = %+v, %v; want zero", got, err)
	}
}

func TestFallbackReturnsTheCallersOwnCancellation(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := NewFallback(NewRedis(unreachableClient(t), "x:"), FallbackOptions{Registerer: reg})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.Check(ctx, "k", Limit{Max: 3, Window: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("check with a cancelled context: error %v, want context.Canceled", err)
	}
	got := testkit.CounterValue(t, reg, storeErrors, map[string]string{"backend": "redis"})
	if got != 0 {
		t.Errorf("%s = %v, want 0: the caller's cancellation is not a store error",
			storeErrors, got)
	}
}

func TestFallbackUsesRedisAgainWhenItIsBack(t *testing.T) {
	t.Parallel()
	direct := redistest.Require(t, asOpen)
	opts, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := redistest.StartProxy(t, opts.Addr)
	opts.Addr = p.Addr()
	proxied := redis.NewClient(opts)
	t.Cleanup(func() { _ = proxied.Close() })

	prefix := redistest.Prefix(t, direct, "ratelimit")
	shared := NewRedis(direct, prefix) // what the other replicas see
	clock := testkit.NewClock()
	var logs testkit.SyncBuffer
	reg := prometheus.NewRegistry()
	f := NewFallback(NewRedis(proxied, prefix), FallbackOptions{
		Logger: testkit.Logger(t, &logs), Registerer: reg, Clock: clock.Now,
		Cooldown: 5 * time.Second,
	})
	ctx := context.Background()
	l := Limit{Max: 10, Window: time.Minute}
	step := func(name string, wantLocal, wantShared int) {
		t.Helper()
		got, err := f.Hit(ctx, "k", l)
		if err != nil || got.Count != wantLocal {
			t.Errorf("%s: hit = %+v, %v; want Count %d", name, got, err, wantLocal)
		}
		res, err := shared.Check(ctx, "k", l)
		if err != nil || res.Count != wantShared {
			t.Errorf("%s: count in Redis = %+v, %v; want %d", name, res, err, wantShared)
		}
	}

	step("healthy", 1, 1)
	p.SetDown(true)
	step("outage", 2, 1) // answered from the process's two events
	p.SetDown(false)
	step("back, cooling down", 3, 1)
	clock.Advance(5 * time.Second)
	step("back, cooled down", 2, 2) // Redis answers again, with its own count

	got := testkit.CounterValue(t, reg, storeErrors, map[string]string{"backend": "redis"})
	if got != 1 {
		t.Errorf("%s = %v, want 1", storeErrors, got)
	}
	if !strings.Contains(logs.String(), "rate limit store answers again") {
		t.Errorf("logs = %q, want a line saying the store is back", logs.String())
	}
}

func TestFallbackAdmitsAndForgetsWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	f := NewFallback(NewRedis(unreachableClient(t), "x:"), FallbackOptions{
		Logger: testkit.Logger(t, io.Discard), Registerer: prometheus.NewRegistry(),
		Cooldown: time.Hour,
	})
	ctx := context.Background()
	l := Limit{Max: 2, Window: time.Minute}
	first, err := f.Admit(ctx, "k", l)
	if err != nil || first.ID == "" || first.Count != 1 {
		t.Fatalf("admit with Redis down = %+v, %v; want admitted", first, err)
	}
	if _, err := f.Admit(ctx, "k", l); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Admit(ctx, "k", l); err != nil || got.Count != 3 || got.ID != "" {
		t.Errorf("third admit of Max 2 = %+v, %v; want refused", got, err)
	}
	if err := f.Forget(ctx, "k", first.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Admit(ctx, "k", l); err != nil || got.Count != 2 || got.ID == "" {
		t.Errorf("admit after a forget = %+v, %v; want admitted with Count 2", got, err)
	}
}

func TestFallbackForgetsInBothStores(t *testing.T) {
	t.Parallel()
	client := redistest.Require(t, asOpen)
	prefix := redistest.Prefix(t, client, "ratelimit")
	shared := NewRedis(client, prefix) // what the other replicas see
	f := NewFallback(NewRedis(client, prefix), FallbackOptions{
		Logger: testkit.Logger(t, io.Discard), Registerer: prometheus.NewRegistry()})
	ctx := context.Background()
	l := Limit{Max: 2, Window: time.Minute}
	counts := func(name string, wantLocal, wantShared int) {
		t.Helper()
		loc, err := f.local.Check(ctx, "k", l)
		if err != nil || loc.Count != wantLocal {
			t.Errorf("%s: count in the process = %+v, %v; want %d", name, loc, err, wantLocal)
		}
		res, err := shared.Check(ctx, "k", l)
		if err != nil || res.Count != wantShared {
			t.Errorf("%s: count in Redis = %+v, %v; want %d", name, res, err, wantShared)
		}
	}

	res, err := f.Hit(ctx, "k", l)
	if err != nil {
		t.Fatal(err)
	}
	counts("after a hit", 1, 1)
	if err := f.Forget(ctx, "k", res.ID); err != nil {
		t.Fatal(err)
	}
	counts("after forgetting it", 0, 0)

	// Another replica fills the key in Redis. This process's copy still has
	// room and admits the attempt that Redis refuses: it takes it back.
	for range 2 {
		if _, err := shared.Hit(ctx, "k", l); err != nil {
			t.Fatal(err)
		}
	}
	res, err = f.Admit(ctx, "k", l)
	if err != nil || res.Count != 3 || res.ID != "" {
		t.Fatalf("admit to a key full in Redis = %+v, %v; want refused (Count 3, no ID)",
			res, err)
	}
	counts("after a refused admit", 0, 2)

	// The other way round: the copy is full (this process saw more than Redis
	// kept, e.g. during an outage) but Redis admits; Redis answers.
	if err := shared.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := f.local.Hit(ctx, "k", l); err != nil {
			t.Fatal(err)
		}
	}
	res, err = f.Admit(ctx, "k", l)
	if err != nil || res.Count != 1 || res.ID == "" {
		t.Fatalf("admit with the copy full = %+v, %v; want admitted by Redis", res, err)
	}
	counts("after Redis admitted", 2, 1)
	if err := f.Forget(ctx, "k", res.ID); err != nil {
		t.Fatal(err)
	}
	counts("after forgetting it", 2, 0)
}

// Not parallel: it swaps the process's default logger.
func TestFallbackWithoutALoggerLogsToTheDefault(t *testing.T) {
	var logs testkit.SyncBuffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(testkit.Logger(t, &logs))
	f := NewFallback(NewRedis(unreachableClient(t, func(o *redis.Options) { o.MaxRetries = -1 }), "x:"),
		FallbackOptions{Registerer: prometheus.NewRegistry()})
	if _, err := f.Hit(context.Background(), "k", Limit{Max: 3, Window: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "rate limit store failed") {
		t.Errorf("default logger got %q, want the outage warning", logs.String())
	}
}
