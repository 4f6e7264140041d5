package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/errs"
)

func TestRotatedKeyVerifiesAfterOneFetch(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v := iss.Verifier(t)
	ctx := context.Background()
	old := iss.Token("user-1", "customer")
	mustVerify(t, v, old)
	if got := iss.Fetches(); got != 1 {
		t.Fatalf("fetches after first verify = %d, want 1", got)
	}

	iss.Rotate()
	fresh := iss.Token("user-1", "customer")
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Fatalf("Verify token of the rotated key: %v", err)
	}
	mustVerify(t, v, old) // the old key is still served and cached
	mustVerify(t, v, fresh)
	if got := iss.Fetches(); got != 2 {
		t.Errorf("fetches after rotation = %d, want 2", got)
	}
}

func TestUnknownKidFloodIsRateLimited(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	const gap = 10 * time.Second
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.MinRefreshGap = gap })
	clk := withClock(v)
	mustVerify(t, v, iss.Token("user-1"))

	// Tokens signed by keys the JWKS never had, each with its own random kid.
	garbage := make([]string, 100)
	for i := range garbage {
		garbage[i] = authtest.Sign(t, authtest.NewKey(t), authtest.DefaultClaims("user-1"))
	}
	flood := func() {
		t.Helper()
		var wg sync.WaitGroup
		errc := make(chan error, len(garbage))
		for _, tok := range garbage {
			wg.Go(func() {
				_, err := v.Verify(context.Background(), tok)
				errc <- err
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if errs.KindOf(err) != errs.Unauthenticated {
				t.Fatalf("Verify of a garbage kid: err = %v, want unauthenticated", err)
			}
		}
	}

	rounds := []struct {
		name       string
		advance    time.Duration
		wantAtMost int
	}{
		{"first flood", 0, 1},
		{"again within the gap", gap / 2, 0},
		{"after the gap", gap, 1},
		{"again right after", 0, 0},
	}
	for _, r := range rounds {
		clk.advance(r.advance)
		before := iss.Fetches()
		flood()
		if got := iss.Fetches() - before; got > r.wantAtMost {
			t.Errorf("%s: %d fetches, want at most %d", r.name, got, r.wantAtMost)
		}
	}
}

func TestConcurrentColdVerifiesShareOneFetch(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v := iss.Verifier(t)
	tok := iss.Token("user-1")
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	wg.Wait()
	if got := iss.Fetches(); got != 1 {
		t.Errorf("fetches = %d, want 1", got)
	}
}

func TestStaleKeysAreRefreshedInTheBackground(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.RefreshInterval = time.Minute })
	clk := withClock(v)
	mustVerify(t, v, iss.Token("user-1"))

	iss.Rotate()
	clk.advance(time.Minute)
	mustVerify(t, v, iss.Token("user-1")) // unknown kid: fetched now, whatever the age
	clk.advance(time.Minute)
	old := iss.Fetches()
	// Stale: this answers from the cache and starts a refresh without waiting.
	mustVerify(t, v, iss.Token("user-1"))
	eventually(t, "the background refresh", func() bool { return iss.Fetches() == old+1 })
}

func TestRefreshDropsRemovedKeys(t *testing.T) {
	t.Parallel()
	kept, removed := authtest.NewKey(t), authtest.NewKey(t)
	var body atomic.Pointer[[]byte]
	publish := func(keys ...authtest.Key) {
		var set jose.JSONWebKeySet
		for _, k := range keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.ID})
		}
		b, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		body.Store(&b)
	}
	publish(kept, removed)
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(*body.Load())
	}))
	t.Cleanup(srv.Close)
	v, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: srv.URL, HTTPClient: srv.Client(),
		RefreshInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk := withClock(v)
	keptTok := authtest.Sign(t, kept, authtest.DefaultClaims("user-1"))
	removedTok := authtest.Sign(t, removed, authtest.DefaultClaims("user-1"))
	mustVerify(t, v, removedTok)

	publish(kept) // identity withdraws a compromised key
	clk.advance(time.Minute)
	mustVerify(t, v, keptTok) // stale: answers from the cache, refreshes behind
	eventually(t, "the background refresh", func() bool { return fetches.Load() == 2 })
	// The refresh is installed just after the response is read; poll for it.
	eventually(t, "the removed key to be refused", func() bool {
		_, err := v.Verify(context.Background(), removedTok)
		return err != nil
	})
	_, err = v.Verify(context.Background(), removedTok)
	wantKind(t, err, errs.Unauthenticated, "unauthenticated", removedTok)
}

func TestJWKSDownWithNothingCached(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		down     func(*authtest.Issuer)
		recovers bool
	}{
		{"server gone", (*authtest.Issuer).Close, false},
		{"server errors", func(iss *authtest.Issuer) {
			iss.FailJWKS(http.StatusServiceUnavailable)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := authtest.NewIssuer(t)
			tok := iss.Token("user-1")
			v := iss.Verifier(t)
			clk := withClock(v)
			tt.down(iss)
			for range 10 {
				_, err := v.Verify(context.Background(), tok)
				if !errors.Is(err, auth.ErrKeysUnavailable) {
					t.Fatalf("Verify = %v, want ErrKeysUnavailable", err)
				}
				wantKind(t, err, errs.Unavailable, "unavailable", tok)
			}
			if got := iss.Fetches(); got > 1 {
				t.Errorf("fetches while down = %d, want at most 1 per second", got)
			}
			if tt.recovers {
				iss.FailJWKS(0)
				clk.advance(time.Second) // past the pause after a failed fetch
				mustVerify(t, v, tok)
			}
		})
	}
}

func TestJWKSDownAfterAFetchKeepsCachedKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		down func(*authtest.Issuer)
	}{
		{"server gone", (*authtest.Issuer).Close},
		{"server errors", func(iss *authtest.Issuer) { iss.FailJWKS(http.StatusInternalServerError) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			iss := authtest.NewIssuer(t)
			v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.RefreshInterval = time.Minute })
			clk := withClock(v)
			tok := iss.Token("user-1")
			mustVerify(t, v, tok)

			tt.down(iss)
			clk.advance(2 * time.Minute) // stale: each verify may try a refresh, which fails
			for range 5 {
				mustVerify(t, v, tok)
				clk.advance(2 * time.Second)
			}
		})
	}
}

func TestUnknownKidWhileJWKSDownIsUnavailable(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v := iss.Verifier(t)
	mustVerify(t, v, iss.Token("user-1"))
	iss.FailJWKS(http.StatusBadGateway)
	iss.Rotate()
	tok := iss.Token("user-1")
	// The kid may be a key identity just published: ask the client to retry
	// rather than to log in again.
	_, err := v.Verify(context.Background(), tok)
	wantKind(t, err, errs.Unavailable, "unavailable", tok)
}

func TestVerifyStopsWaitingAtTheRequestDeadline(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	iss := authtest.NewIssuer(t)
	srv := blockingJWKS(t, block)
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) {
		c.JWKSURL = srv.URL
		c.HTTPClient = srv.Client()
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.Verify(ctx, iss.Token("user-1"))
	close(block)
	wantKind(t, err, errs.Unavailable, "unavailable", "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want it to wrap context.Canceled", err)
	}
}

// blockingJWKS serves nothing until block is closed.
func blockingJWKS(t *testing.T, block chan struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func mustVerify(t *testing.T, v *auth.Verifier, tok string) auth.Caller {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}
