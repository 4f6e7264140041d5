// Package cache keeps encoded read results (a product by id, a page of a
// listing) near a service so that repeated reads skip the database.
//
// Memory keeps them in the process (the all-in-one); Redis keeps them in Redis
// so that every replica of a service shares one cache. A cache never fails a
// request: when the store does not answer, a Get is a miss and a write is
// dropped, and the caller reads the database as it would have without a
// cache.
//
//	var store cache.Store = cache.NewMemory(cache.MemoryOptions{
//		Name: "catalog", Registerer: reg})
//	if redisURL != "" {
//		client, err := redisconn.Open(ctx, redisURL)
//		...
//		store = cache.NewRedis(client, "catalog:cache:", cache.RedisOptions{
//			Name: "catalog", Logger: log, Registerer: reg})
//	}
//
// One entry per thing, deleted when the thing changes (after the transaction
// commits, e.g. in Tx.OnCommit):
//
//	body, err := cache.GetOrLoad(ctx, store, "product:"+id, time.Minute,
//		func(ctx context.Context) ([]byte, error) { ... })
//	...
//	store.Delete(ctx, "product:"+id)
//
// Many entries invalidated at once (every page of every listing), by putting
// a namespace's generation in their keys and bumping it on any change:
//
//	key := fmt.Sprintf("products:%d:%s", store.Generation(ctx, "products"), query)
//	body, err := cache.GetOrLoad(ctx, store, key, 30*time.Second, load)
//	...
//	store.Bump(ctx, "products")
//
// Pages of older generations are never read again and leave by TTL (Redis)
// or by eviction (Memory).
//
// # Staleness
//
// Every entry has a TTL, and the TTL is the bound on how stale a read can be:
// choose it as the longest time the data may lag a write. Deletes and Bumps
// make most reads fresh much sooner, but some cases fall back on the TTL:
//
//   - A load that read the database before a write may store its result just
//     after that write's Delete (the usual cache-aside race). Generations do
//     not have this race for the pages they cover: a page loaded before a
//     Bump is stored under the old generation and never read again.
//   - A Delete or Bump that fails (Redis down, or slower than its timeout) is
//     logged and counted, not retried: the entries it meant to remove stay
//     until their TTL ends. While Redis is down nothing is read from it, so
//     nothing stale is served then; if it answers again before the TTL ends,
//     the old entries can be served until it does.
//   - With Memory, each replica has its own cache, and other replicas learn of
//     a write only from the events they consume (their Delete or Bump); the
//     all-in-one, the one place Memory is used, has a single replica.
package cache

import (
	"context"
	"time"
)

// Store is a cache of byte values by key, plus per-namespace generation
// counters. Memory and Redis implement it; it is declared here because a
// service picks one of them at start.
//
// No method returns an error: a store that does not answer behaves as an
// empty cache (Get misses, Generation returns the last generation it knew)
// and drops writes, after logging and counting the failure.
type Store interface {
	// Get returns the value stored under key, or false when there is none,
	// it has expired, or the store does not answer. The caller owns the
	// returned slice.
	Get(ctx context.Context, key string) ([]byte, bool)
	// Set stores a copy of value under key for ttl; a ttl <= 0 stores
	// nothing.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration)
	// Delete removes keys.
	Delete(ctx context.Context, keys ...string)
	// Generation returns namespace's current generation, 0 until its first
	// Bump.
	Generation(ctx context.Context, namespace string) uint64
	// Bump increments namespace's generation, so that every key built from
	// the previous one is no longer read.
	Bump(ctx context.Context, namespace string)
}

// defaultName labels the metrics of a store whose options name none.
const defaultName = "default"
