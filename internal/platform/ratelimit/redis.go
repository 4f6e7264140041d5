package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"emporium/internal/platform/errs"
)

// Redis is a Store in Redis, shared by every replica that uses the same
// server and prefix: a sorted set per key whose members are events scored by
// their time in microseconds.
//
// Times come from the Redis server (TIME inside a Lua script), not from the
// replicas: their clocks can disagree by more than a short window, and one
// clock for all of them keeps the window the same for everyone. The script
// also makes each Hit and Admit atomic, so concurrent hits from many replicas
// count exactly. An event's id is its member, which Forget removes. A key
// keeps at most Max+1 events and expires one window after its newest event.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Store that keeps its counts in client's Redis under
// keys that start with prefix (e.g. "identity:ratelimit:").
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

// slide prunes, records and counts in one atomic step. KEYS[1] is the key;
// ARGV: window in microseconds, Max, member, window in milliseconds (rounded
// up) for the key's expiry, mode. The mode is "hit" (record the member),
// "admit" (record it only while fewer than Max events are in the window) or
// "check" (record nothing). It returns {count, retry after in microseconds,
// 1 when the member was recorded}; count includes an attempt that admit
// refused. Numbers that may exceed Lua's %.14g formatting (times) are
// formatted with %d before Redis sees them.
var slide = redis.NewScript(`
local key = KEYS[1]
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local mode = ARGV[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local gone = string.format('%d', now - window)
local recorded, refused = 0, 0
if mode ~= 'check' then
  redis.call('ZREMRANGEBYSCORE', key, '-inf', gone)
  if mode == 'admit' and redis.call('ZCARD', key) >= max then
    refused = 1
  else
    redis.call('ZADD', key, string.format('%d', now), ARGV[3])
    redis.call('ZREMRANGEBYRANK', key, 0, -(max + 2))
    redis.call('PEXPIRE', key, ARGV[4])
    recorded = 1
  end
end
local count = redis.call('ZCOUNT', key, '(' .. gone, '+inf')
if count < max then
  return {count, 0, recorded}
end
local nth = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. gone,
  'WITHSCORES', 'LIMIT', max - 1, 1)
return {count + refused, tonumber(nth[2]) + window - now, recorded}
`)

// Hit records one event for key now and returns the state after it.
func (r *Redis) Hit(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := r.run(ctx, key, l, "hit")
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: hit: %w", err)
	}
	return res, nil
}

// Admit records one event for key now unless key already holds Max events in
// the window. Its Result counts the attempt either way: Count > Max means it
// was refused and nothing was recorded.
func (r *Redis) Admit(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := r.run(ctx, key, l, "admit")
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: admit: %w", err)
	}
	return res, nil
}

// Check returns the state of key without recording anything.
func (r *Redis) Check(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := r.run(ctx, key, l, "check")
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: check: %w", err)
	}
	return res, nil
}

// Forget removes the event id (its sorted set member) from key's events.
func (r *Redis) Forget(ctx context.Context, key, id string) error {
	if id == "" {
		return nil
	}
	if err := r.client.ZRem(ctx, r.prefix+key, id).Err(); err != nil {
		return fmt.Errorf("ratelimit: forget: %w", unavailable(err))
	}
	return nil
}

// Reset forgets key's events.
func (r *Redis) Reset(ctx context.Context, key string) error {
	if err := r.client.Del(ctx, r.prefix+key).Err(); err != nil {
		return fmt.Errorf("ratelimit: reset: %w", unavailable(err))
	}
	return nil
}

func (r *Redis) run(ctx context.Context, key string, l Limit, mode string) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, err
	}
	// The member is the event's id: random, so that concurrent events from
	// every replica stay distinct.
	var member string
	if mode != "check" {
		member = strconv.FormatUint(rand.Uint64(), 36)
	}
	expiry := (l.Window + time.Millisecond - 1).Milliseconds()
	reply, err := slide.Run(ctx, r.client, []string{r.prefix + key},
		l.Window.Microseconds(), l.Max, member, expiry, mode).Int64Slice()
	if err != nil {
		return Result{}, unavailable(err)
	}
	if len(reply) != 3 {
		return Result{}, fmt.Errorf("unexpected script reply %v", reply)
	}
	res := newResult(int(reply[0]), l, time.Duration(reply[1])*time.Microsecond)
	if reply[2] == 1 {
		res.ID = member
	}
	return res, nil
}

// unavailable marks a Redis error as a dependency being down (503).
func unavailable(err error) error {
	return &errs.Error{Kind: errs.Unavailable, Code: "unavailable",
		Message: "the rate limiter is unavailable", RetryAfter: time.Second, Err: err}
}
