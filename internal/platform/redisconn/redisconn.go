// Package redisconn opens the Redis client a service shares between its
// cache and its rate limiter: the one place a REDIS_URL becomes a client.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"emporium/internal/platform/redact"
)

// openTimeout bounds Open's ping when ctx has no earlier deadline.
const openTimeout = 5 * time.Second

// Open connects to the Redis server at redisURL (REDIS_URL:
// redis://[user:password@]host:port/db, rediss:// for TLS, with go-redis's
// query options such as dial_timeout) and pings it. The client stops each
// command at its context's deadline. Errors name REDIS_URL and never show the
// password. Close the client when done.
func Open(ctx context.Context, redisURL string) (*redis.Client, error) {
	opts, err := ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	// Callers bound each command with their context's deadline (a login must
	// not hang on a Redis that accepts connections but never answers).
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: open REDIS_URL %s: ping: %w", redact.URL(redisURL), err)
	}
	return client, nil
}

// ParseURL is redis.ParseURL with an error that names REDIS_URL and does not
// show the password.
func ParseURL(redisURL string) (*redis.Options, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		// url.Error repeats the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis: open REDIS_URL %s: %w", redact.URL(redisURL), err)
	}
	return opts, nil
}
