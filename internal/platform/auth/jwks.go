package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// fetchTimeout bounds one JWKS fetch. The fetch is shared by every waiting
	// request, so it runs on its own deadline; each request still stops waiting
	// at its own.
	fetchTimeout = 5 * time.Second
	// maxJWKSBytes bounds the JWKS response body.
	maxJWKSBytes = 1 << 20
	// maxFailureBackoff is the longest pause after a failed fetch before the
	// next one (shorter if MinRefreshGap is), so an identity service that is
	// down is asked about once a second per process rather than once per request.
	maxFailureBackoff = time.Second
)

// keySet is one fetched JWKS: the usable Ed25519 keys by kid.
type keySet struct {
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
}

// fetchCall is one JWKS fetch in flight; everyone who needs it waits on done.
type fetchCall struct {
	done chan struct{}
	err  error
}

// fetchReason says why a fetch is wanted, which decides whether it may start.
type fetchReason int

const (
	fetchInitial    fetchReason = iota // nothing cached yet
	fetchStale                         // cache older than RefreshInterval
	fetchUnknownKid                    // a token names a kid the cache lacks
)

// startFetch returns the fetch in flight, or starts one when reason allows it
// now; it returns nil when the caller must make do without one. Concurrent
// callers share one fetch.
func (v *Verifier) startFetch(ctx context.Context, reason fetchReason) *fetchCall {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.inflight != nil {
		return v.inflight
	}
	now := v.now()
	if !v.failedAt.IsZero() && now.Sub(v.failedAt) < v.failureBackoff {
		return nil
	}
	switch reason {
	case fetchStale:
		// Another caller may have refreshed since this one looked.
		if s := v.keys.Load(); s != nil && now.Sub(s.fetchedAt) < v.cfg.RefreshInterval {
			return nil
		}
	case fetchUnknownKid:
		if !v.lastKidFetch.IsZero() && now.Sub(v.lastKidFetch) < v.cfg.MinRefreshGap {
			return nil
		}
		v.lastKidFetch = now
	}
	call := &fetchCall{done: make(chan struct{})}
	v.inflight = call
	// The fetch outlives the request that started it (others may be waiting),
	// but keeps its values, such as trace context.
	go v.runFetch(context.WithoutCancel(ctx), call)
	return call
}

// runFetch fetches the JWKS, installs it or records the failure, and releases
// the waiters.
func (v *Verifier) runFetch(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	keys, err := v.fetchKeys(ctx)

	v.mu.Lock()
	now := v.now()
	if err != nil {
		v.failedAt = now
	} else {
		v.failedAt = time.Time{}
		v.keys.Store(&keySet{keys: keys, fetchedAt: now})
	}
	call.err = err
	v.inflight = nil
	v.mu.Unlock()
	close(call.done)

	if err != nil {
		v.log.WarnContext(ctx, "auth: JWKS fetch failed",
			slog.String("url", v.cfg.JWKSURL), slog.String("error", err.Error()))
	} else {
		v.log.DebugContext(ctx, "auth: JWKS fetched", slog.Int("keys", len(keys)))
	}
}

// wait waits for call to finish or ctx to end.
func wait(ctx context.Context, call *fetchCall) error {
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetchKeys downloads the JWKS and keeps its Ed25519 signature keys.
func (v *Verifier) fetchKeys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxJWKSBytes))
		return nil, fmt.Errorf("fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("fetch JWKS: body over %d bytes", maxJWKSBytes)
	}
	keys, err := v.parseKeys(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	return keys, nil
}

// errNoUsableKeys is a JWKS without a single Ed25519 signature key. It is
// treated as a failed fetch so that a broken answer cannot wipe the cache.
var errNoUsableKeys = errors.New("no Ed25519 signature keys in the set")

// parseKeys decodes a JWKS and keeps the keys a token may be verified with:
// OKP/Ed25519 public keys with a kid, meant for signatures (use "sig" or
// absent) with alg EdDSA (or absent). Every other key is skipped, including
// keys go-jose cannot parse, so one odd key does not spoil the set.
func (v *Verifier) parseKeys(
	ctx context.Context, body []byte,
) (map[string]ed25519.PublicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	dups := make(map[string]bool)
	for i, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			v.log.DebugContext(ctx, "auth: JWKS key skipped", slog.Int("index", i),
				slog.String("reason", err.Error()))
			continue
		}
		pub, ok := k.Key.(ed25519.PublicKey)
		switch {
		case !ok, k.KeyID == "", k.Use != "" && k.Use != "sig",
			k.Algorithm != "" && k.Algorithm != string(jose.EdDSA), !k.Valid():
			v.log.DebugContext(ctx, "auth: JWKS key skipped", slog.Int("index", i),
				slog.String("kid", k.KeyID), slog.String("reason", "not an Ed25519 signature key"))
			continue
		}
		if _, dup := keys[k.KeyID]; dup {
			dups[k.KeyID] = true
		}
		keys[k.KeyID] = pub
	}
	for kid := range dups {
		// Two keys under one kid: refuse to guess which one signs.
		v.log.WarnContext(ctx, "auth: JWKS kid appears twice; key ignored", slog.String("kid", kid))
		delete(keys, kid)
	}
	if len(keys) == 0 {
		return nil, errNoUsableKeys
	}
	return keys, nil
}
