package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a Redis. The zero value is usable: logs go to
// slog.Default() and metrics to a private registry.
type RedisOptions struct {
	// Name labels the store's metrics and logs (the cache label), e.g.
	// "catalog"; default "default".
	Name       string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Timeout bounds each call to Redis; default 100ms.
	Timeout time.Duration
	// Cooldown is how long Get, Set and Generation leave Redis alone after a
	// call fails, answering as if it had failed again, so that an outage
	// costs one Timeout per Cooldown instead of one per request. Delete and
	// Bump are always tried. Default 1s; negative means no cooldown.
	Cooldown time.Duration
	// GenerationTTL is how long this process reuses a generation it has read
	// instead of asking Redis again, saving a round trip on every listing
	// read; at most 100ms (longer is cut to that). A Bump on this process is
	// seen by it at once; one on another replica up to GenerationTTL later.
	// Default 0: every Generation asks Redis.
	GenerationTTL time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Defaults and bounds of RedisOptions.
const (
	defaultTimeout   = 100 * time.Millisecond
	defaultCooldown  = time.Second
	maxGenerationTTL = 100 * time.Millisecond
)

// Redis is a Store in Redis, shared by every replica that uses the same
// server and prefix. A value is a string key prefix+"v:"+key, stored with
// SET PX and read with GET; a generation is a counter at prefix+"g:"+namespace,
// bumped with INCR, with no expiry.
//
// Each call is bounded by Timeout whatever the client's own timeouts. When
// the client was made with ContextTimeoutEnabled, go-redis itself stops at
// the deadline; otherwise go-redis ignores it (and a hung server holds a call
// for the client's DialTimeout or ReadTimeout, seconds), so the call runs in
// its own goroutine and is abandoned at the deadline. The first way is
// cheaper; both keep an unresponsive Redis from slowing requests by more than
// Timeout.
//
// A failed call is logged at warn (at most once per 10s, with the number of
// failures not logged), counted in emporium_cache_errors_total{op}, and then
// answered as a miss, a dropped write, or the last generation this process
// knew. See the package doc for what that means for staleness.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	genTTL  time.Duration
	// bounded reports that the client stops at a context's deadline.
	bounded bool
	now     func() time.Time
	metrics metrics
	outage  *outage

	mu   sync.Mutex
	gens map[string]knownGen
}

// knownGen is a generation this process read or bumped, and when.
type knownGen struct {
	gen uint64
	at  time.Time
}

// NewRedis returns a Store that keeps its entries in client's Redis under
// keys that start with prefix (e.g. "catalog:cache:").
func NewRedis(client redis.UniversalClient, prefix string, opts RedisOptions) *Redis {
	r := &Redis{
		client:  client,
		prefix:  prefix,
		timeout: opts.Timeout,
		genTTL:  min(opts.GenerationTTL, maxGenerationTTL),
		bounded: honoursDeadlines(client),
		now:     opts.Clock,
		metrics: newMetrics(opts.Registerer, opts.Name, "redis"),
		gens:    make(map[string]knownGen),
	}
	if r.timeout <= 0 {
		r.timeout = defaultTimeout
	}
	if r.now == nil {
		r.now = time.Now
	}
	cooldown := opts.Cooldown
	if cooldown == 0 {
		cooldown = defaultCooldown
	}
	r.outage = newOutage(opts.Name, opts.Logger, r.now, cooldown, r.metrics.errors)
	return r
}

// Get returns the value stored under key, or false when there is none, it
// has expired, or Redis does not answer.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool) {
	v, found, answered := r.get(ctx, key)
	switch {
	case !answered:
		r.metrics.unanswered.Inc()
	case found:
		r.metrics.hit.Inc()
	default:
		r.metrics.miss.Inc()
	}
	return v, found
}

// lookup is Get without the request metrics.
func (r *Redis) lookup(ctx context.Context, key string) ([]byte, bool) {
	v, found, _ := r.get(ctx, key)
	return v, found
}

func (r *Redis) get(ctx context.Context, key string) (v []byte, found, answered bool) {
	if r.outage.coolingDown() {
		return nil, false, false
	}
	v, err := call(ctx, r, func(ctx context.Context) ([]byte, error) {
		return r.client.Get(ctx, r.prefix+"v:"+key).Bytes()
	})
	switch {
	case err == nil:
		r.outage.answered()
		return v, true, true
	case errors.Is(err, redis.Nil):
		r.outage.answered()
		return nil, false, true
	default:
		r.outage.failed(ctx, "get", err)
		return nil, false, false
	}
}

// Set stores value under key for ttl (at least a millisecond); a ttl <= 0
// stores nothing.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) {
	if ttl <= 0 || r.outage.coolingDown() {
		return
	}
	// Redis expires in whole milliseconds; go-redis would log and round a
	// shorter ttl itself.
	ttl = max(ttl, time.Millisecond)
	if !r.bounded {
		// An abandoned call may still be sending value after Set returns,
		// when the caller is free to change it.
		value = bytes.Clone(value)
	}
	r.do(ctx, "set", func(ctx context.Context) error {
		return r.client.Set(ctx, r.prefix+"v:"+key, value, ttl).Err()
	})
}

// Delete removes keys, in one round trip. It is tried even while reads are
// cooling down after a failure.
func (r *Redis) Delete(ctx context.Context, keys ...string) {
	if len(keys) == 0 {
		return
	}
	r.do(ctx, "delete", func(ctx context.Context) error {
		if len(keys) == 1 {
			return r.client.Del(ctx, r.prefix+"v:"+keys[0]).Err()
		}
		// One DEL per key: in a cluster the keys may live in different slots.
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, key := range keys {
				p.Del(ctx, r.prefix+"v:"+key)
			}
			return nil
		})
		return err
	})
}

// Generation returns namespace's current generation, 0 until its first Bump.
// When Redis does not answer it returns the last generation this process
// read or bumped (0 if none): the Get that follows most likely fails too.
func (r *Redis) Generation(ctx context.Context, namespace string) uint64 {
	if r.genTTL > 0 {
		if g, ok := r.knownGen(namespace, true); ok {
			return g
		}
	}
	if r.outage.coolingDown() {
		g, _ := r.knownGen(namespace, false)
		return g
	}
	g, err := call(ctx, r, func(ctx context.Context) (uint64, error) {
		g, err := r.client.Get(ctx, r.prefix+"g:"+namespace).Uint64()
		if errors.Is(err, redis.Nil) {
			return 0, nil
		}
		return g, err
	})
	if err != nil {
		r.outage.failed(ctx, "generation", err)
		g, _ := r.knownGen(namespace, false)
		return g
	}
	r.outage.answered()
	r.learnGen(namespace, g)
	return g
}

// Bump increments namespace's generation. It is tried even while reads are
// cooling down after a failure.
func (r *Redis) Bump(ctx context.Context, namespace string) {
	g, err := call(ctx, r, func(ctx context.Context) (uint64, error) {
		g, err := r.client.Incr(ctx, r.prefix+"g:"+namespace).Result()
		return uint64(g), err
	})
	if err != nil {
		r.outage.failed(ctx, "bump", err)
		return
	}
	r.outage.answered()
	r.learnGen(namespace, g)
}

// knownGen returns the last generation of namespace this process saw; with
// fresh, only one seen less than GenerationTTL ago.
func (r *Redis) knownGen(namespace string, fresh bool) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.gens[namespace]
	if !ok || fresh && r.now().Sub(k.at) >= r.genTTL {
		return 0, false
	}
	return k.gen, true
}

// learnGen records that namespace's generation is g. A read that started
// before a Bump by this process can finish after it with the older number;
// the newer one is kept while it is fresh (younger than GenerationTTL), so
// that this process keeps seeing its own Bump. After that any answer from
// Redis wins, as generations go back to 0 if Redis loses its data.
func (r *Redis) learnGen(namespace string, g uint64) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.gens[namespace]; ok && k.gen > g && now.Sub(k.at) < r.genTTL {
		return
	}
	r.gens[namespace] = knownGen{gen: g, at: now}
}

// do runs a write and records its failure as op.
func (r *Redis) do(ctx context.Context, op string, fn func(context.Context) error) {
	_, err := call(ctx, r, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	})
	if err != nil {
		r.outage.failed(ctx, op, err)
		return
	}
	r.outage.answered()
}

// call runs fn with r's timeout, returning at the deadline even when the
// client ignores it (see Redis).
func call[T any](ctx context.Context, r *Redis, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if r.bounded {
		return fn(ctx)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case res := <-done:
		return res.v, res.err
	case <-ctx.Done():
		// fn goes on until the client's own timeout ends it; its result is
		// dropped.
		return zero, ctx.Err()
	}
}

// honoursDeadlines reports whether client stops a command at its context's
// deadline (go-redis's ContextTimeoutEnabled). Other clients are assumed not
// to.
func honoursDeadlines(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}
