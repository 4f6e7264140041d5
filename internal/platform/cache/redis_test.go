package cache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"emporium/internal/platform/redistest"
	"emporium/internal/platform/testkit"
)

func TestRedisReplicasShareData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Two clients, as two replicas of a service would have.
	one, two := redistest.Require(t, unbounded), redistest.Require(t, bounded)
	prefix := redistest.Prefix(t, one, "cache")
	a := NewRedis(one, prefix, RedisOptions{Timeout: 2 * time.Second})
	b := NewRedis(two, prefix, RedisOptions{Timeout: 2 * time.Second})

	a.Set(ctx, "product:1", []byte("p1"), time.Minute)
	a.Set(ctx, "product:2", []byte("p2"), time.Minute)
	if got, found := b.Get(ctx, "product:1"); string(got) != "p1" || !found {
		t.Errorf("b.Get after a.Set = %q, %v; want %q", got, found, "p1")
	}
	b.Delete(ctx, "product:1", "product:2")
	for _, key := range []string{"product:1", "product:2"} {
		if got, found := a.Get(ctx, key); found {
			t.Errorf("a.Get(%q) after b.Delete = %q, want a miss", key, got)
		}
	}
	a.Bump(ctx, "products")
	b.Bump(ctx, "products")
	if ga, gb := a.Generation(ctx, "products"), b.Generation(ctx, "products"); ga != 2 ||
		gb != 2 {
		t.Errorf("after a bump on each replica, generations = %d, %d; want 2, 2", ga, gb)
	}
}

func TestRedisGenerationReuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Require(t, bounded)
	prefix := redistest.Prefix(t, client, "cache")
	clock := testkit.NewClock()
	// An hour is cut to maxGenerationTTL.
	a := NewRedis(client, prefix, RedisOptions{GenerationTTL: time.Hour, Clock: clock.Now,
		Timeout: 2 * time.Second})
	other := NewRedis(client, prefix, RedisOptions{Timeout: 2 * time.Second})
	steps := []struct {
		do   func()
		want uint64 // a.Generation afterwards
	}{
		{func() {}, 0},
		{func() { other.Bump(ctx, "products") }, 0}, // a reuses the 0 it read
		{func() { a.Bump(ctx, "products") }, 2},     // its own Bump shows at once
		{func() { other.Bump(ctx, "products") }, 2},
		{func() { clock.Advance(maxGenerationTTL - time.Nanosecond) }, 2},
		{func() { clock.Advance(time.Nanosecond) }, 3},
	}
	for i, step := range steps {
		step.do()
		if got := a.Generation(ctx, "products"); got != step.want {
			t.Errorf("step %d: generation = %d, want %d", i, got, step.want)
		}
	}
}

func TestRedisEntriesCarryTheirTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Require(t, bounded)
	prefix := redistest.Prefix(t, client, "cache")
	s := NewRedis(client, prefix, RedisOptions{Timeout: 2 * time.Second})
	s.Set(ctx, "k", []byte("v"), 1500*time.Millisecond)
	ttl, err := client.PTTL(ctx, prefix+"v:k").Result()
	if err != nil || ttl <= 0 || ttl > 1500*time.Millisecond {
		t.Errorf("PTTL %sv:k = %s, %v; want in (0, 1.5s]", prefix, ttl, err)
	}
}

func TestRedisUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr func(t testing.TB) string
		// timeout is whether the failures are the store's Timeout passing.
		timeout bool
	}{
		{"refused", redistest.ClosedAddr, false},
		{"hung", hungServer, true},
	}
	for _, tt := range tests {
		for _, contextTimeouts := range []bool{false, true} {
			name := fmt.Sprintf("%s/context-timeouts=%v", tt.name, contextTimeouts)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				// The client's own timeouts are an hour: only the store's
				// Timeout can end a call to a hung server within the test. No
				// retries, so that a refusal is reported as one (go-redis
				// dials 5 times, 100ms apart, by default; the store's
				// Timeout would end that too, as a timeout).
				client := redis.NewClient(&redis.Options{
					Addr: tt.addr(t), ContextTimeoutEnabled: contextTimeouts,
					DialTimeout: time.Hour, ReadTimeout: time.Hour, WriteTimeout: time.Hour,
					MaxRetries: -1, DialerRetries: 1,
				})
				t.Cleanup(func() { _ = client.Close() })
				testUnavailable(t, client, tt.timeout)
			})
		}
	}
}

func testUnavailable(t *testing.T, client *redis.Client, timeout bool) {
	ctx := context.Background()
	clock := testkit.NewClock()
	reg := prometheus.NewRegistry()
	var logs testkit.SyncBuffer
	s := NewRedis(client, "x:", RedisOptions{
		Name: "test", Logger: testkit.Logger(t, &logs), Registerer: reg, Clock: clock.Now,
		Timeout: 50 * time.Millisecond, Cooldown: time.Second,
	})
	const key = "product:secret-key"
	miss := func(what string) {
		t.Helper()
		var got []byte
		var found bool
		returnsSoon(t, what, func() { got, found = s.Get(ctx, key) })
		if found {
			t.Errorf("%s = %q, want a miss", what, got)
		}
	}
	wantCounts := func(step string, want map[string]float64) {
		t.Helper()
		for op, n := range want {
			if got := storeErrors(t, reg, op); got != n {
				t.Errorf("%s: %s{op=%s} = %v, want %v", step, errorsMetric, op, got, n)
			}
		}
	}

	miss("Get with Redis down")
	wantCounts("first Get", map[string]float64{"get": 1})

	// Cooling down: reads and sets leave Redis alone; deletes and bumps
	// still try, lest an invalidation be lost when it was only a blip.
	miss("Get while cooling down")
	returnsSoon(t, "Set", func() { s.Set(ctx, key, []byte("v"), time.Minute) })
	var gen uint64
	returnsSoon(t, "Generation", func() { gen = s.Generation(ctx, "products") })
	if gen != 0 {
		t.Errorf("Generation with Redis down = %d, want 0", gen)
	}
	returnsSoon(t, "Delete", func() { s.Delete(ctx, key) })
	returnsSoon(t, "Bump", func() { s.Bump(ctx, "products") })
	var loaded []byte
	var err error
	returnsSoon(t, "GetOrLoad", func() {
		loaded, err = GetOrLoad(ctx, s, key, time.Minute, func(context.Context) ([]byte, error) {
			return []byte("from the database"), nil
		})
	})
	if string(loaded) != "from the database" || err != nil {
		t.Errorf("GetOrLoad with Redis down = %q, %v; want the loaded value", loaded, err)
	}
	wantCounts("cooldown", map[string]float64{
		"get": 1, "set": 0, "generation": 0, "delete": 1, "bump": 1})
	if got := requests(t, reg, "error"); got != 3 {
		t.Errorf("%s{result=error} = %v, want 3", requestsMetric, got)
	}

	clock.Advance(time.Second)
	miss("Get after the cooldown")
	wantCounts("after the cooldown", map[string]float64{"get": 2})

	// One warning per warnEvery, however many failures.
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, out)
	}
	if want := fmt.Sprintf("timeout=%v", timeout); !strings.Contains(out, want) {
		t.Errorf("warning does not say %s:\n%s", want, out)
	}
	clock.Advance(warnEvery)
	miss("Get after warnEvery")
	out = logs.String()
	if n := strings.Count(out, "level=WARN"); n != 2 ||
		!strings.Contains(out, "unlogged_failures=3") {
		t.Errorf("want a second warning counting 3 unlogged failures:\n%s", out)
	}
	if strings.Contains(out, key) {
		t.Errorf("logs show the key:\n%s", out)
	}
}

func TestRedisRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redistest.Require(t, unbounded)
	opts, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := redistest.StartProxy(t, opts.Addr)
	opts.Addr, opts.MaxRetries = p.Addr(), -1
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	prefix := redistest.Prefix(t, client, "cache")
	clock := testkit.NewClock()
	reg := prometheus.NewRegistry()
	var logs testkit.SyncBuffer
	s := NewRedis(client, prefix, RedisOptions{
		Name: "test", Logger: testkit.Logger(t, &logs), Registerer: reg, Clock: clock.Now,
		Timeout: 2 * time.Second, Cooldown: time.Second,
	})
	s.Set(ctx, "k", []byte("v"), time.Minute)

	steps := []struct {
		name      string
		do        func()
		found     bool
		getErrors float64
	}{
		{"up", func() {}, true, 0},
		{"down", func() { p.SetDown(true) }, false, 1},
		{"back, cooling down", func() { p.SetDown(false) }, false, 1},
		{"after the cooldown", func() { clock.Advance(time.Second) }, true, 1},
	}
	for _, step := range steps {
		step.do()
		got, found := s.Get(ctx, "k")
		if found != step.found || found && string(got) != "v" {
			t.Errorf("%s: Get = %q, %v; want found %v", step.name, got, found, step.found)
		}
		if got := storeErrors(t, reg, "get"); got != step.getErrors {
			t.Errorf("%s: %s{op=get} = %v, want %v", step.name, errorsMetric, got,
				step.getErrors)
		}
	}
	if out := logs.String(); !strings.Contains(out, "cache store answers again") {
		t.Errorf("no word of recovery in the logs:\n%s", out)
	}
}

func TestRedisCallerGivingUpIsNotAnOutage(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: hungServer(t), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	reg := prometheus.NewRegistry()
	var logs testkit.SyncBuffer
	s := NewRedis(client, "x:", RedisOptions{Name: "test", Registerer: reg,
		Logger: testkit.Logger(t, &logs), Timeout: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Get(ctx, "k")
	s.Delete(ctx, "k")
	s.Bump(ctx, "products")
	for _, op := range []string{"get", "delete", "bump"} {
		if got := storeErrors(t, reg, op); got != 0 {
			t.Errorf("%s{op=%s} = %v after the caller gave up, want 0", errorsMetric, op, got)
		}
	}
	if out := logs.String(); out != "" {
		t.Errorf("logs after the caller gave up:\n%s", out)
	}
	// No cooldown either: the next Get tries Redis (and times out).
	s.Get(context.Background(), "k")
	if got := storeErrors(t, reg, "get"); got != 1 {
		t.Errorf("%s{op=get} = %v after a live Get, want 1", errorsMetric, got)
	}
}

// returnsSoon runs f and fails the test if f has not returned within 10s:
// far longer than a store's Timeout in these tests, far shorter than their
// clients' own timeouts.
func returnsSoon(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s has not returned after 10s", what)
	}
}

// Not parallel: it swaps the process's default logger.
func TestRedisWithoutALoggerLogsToTheDefault(t *testing.T) {
	var logs testkit.SyncBuffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(testkit.Logger(t, &logs))
	client := redis.NewClient(&redis.Options{Addr: redistest.ClosedAddr(t), MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	s := NewRedis(client, "x:", RedisOptions{Registerer: prometheus.NewRegistry()})
	if _, ok := s.Get(context.Background(), "k"); ok {
		t.Fatal("a hit from a closed port")
	}
	if !strings.Contains(logs.String(), "cache store failed") {
		t.Errorf("default logger got %q, want the outage warning", logs.String())
	}
}
