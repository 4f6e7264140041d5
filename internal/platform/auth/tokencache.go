package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultTokenCacheSize is how many verified tokens a Verifier remembers
// when VerifierConfig names no size.
const DefaultTokenCacheSize = 10_000

// tokenShards spreads the cache over locks, so that concurrent requests
// rarely wait on each other.
const tokenShards = 16

// tokenCache remembers verified access tokens by their SHA-256 until they
// expire, so that a token seen again skips parsing and the signature check.
// It holds at most size tokens: a full shard first forgets the expired ones,
// then any one. What the cache returns is checked again on every use for
// what can change while a token lives: its key still being published, and
// its user's revocations (see Verifier.cached).
type tokenCache struct {
	perShard int
	shards   [tokenShards]tokenShard
}

type tokenShard struct {
	mu     sync.Mutex
	tokens map[[sha256.Size]byte]cachedToken
}

// cachedToken is a verified token: its caller, the kid that signed it, and
// when it stops being accepted (its exp plus the leeway).
type cachedToken struct {
	caller Caller
	kid    string
	until  time.Time
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{perShard: max(size/tokenShards, 1)}
	for i := range c.shards {
		c.shards[i].tokens = make(map[[sha256.Size]byte]cachedToken)
	}
	return c
}

func tokenKey(raw string) [sha256.Size]byte { return sha256.Sum256([]byte(raw)) }

func (c *tokenCache) shard(key [sha256.Size]byte) *tokenShard {
	return &c.shards[key[0]%tokenShards]
}

// get returns the token with key, if it is cached and not expired at now.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (cachedToken, bool) {
	s := c.shard(key)
	s.mu.Lock()
	t, ok := s.tokens[key]
	if ok && !now.Before(t.until) {
		delete(s.tokens, key)
		ok = false
	}
	s.mu.Unlock()
	return t, ok
}

// put remembers t under key, making room when the shard is full.
func (c *tokenCache) put(key [sha256.Size]byte, t cachedToken, now time.Time) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) >= c.perShard {
		for k, old := range s.tokens {
			if !now.Before(old.until) {
				delete(s.tokens, k)
			}
		}
		for k := range s.tokens {
			if len(s.tokens) < c.perShard {
				break
			}
			delete(s.tokens, k) // map order: any one
		}
	}
	s.tokens[key] = t
}

// len returns how many tokens are cached.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.tokens)
		s.mu.Unlock()
	}
	return n
}
