package auth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/errs"
)

// A token verified once is remembered, but a revocation of its user's
// tokens and its expiry still refuse it on the next request.
func TestCachedTokenStillChecked(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	revoked := &auth.RevocationList{}
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.Revocations = revoked })
	clk := withClock(v)
	tok := iss.TokenWith(func(c *authtest.Claims) {
		c.IssuedAt = time.Now().Add(-time.Minute)
		c.Expiry = time.Now().Add(10 * time.Minute)
	})
	other := iss.Token("user-2")
	mustVerify(t, v, tok)
	mustVerify(t, v, other)
	if got := auth.CachedTokens(v); got != 2 {
		t.Fatalf("%d tokens cached, want 2", got)
	}

	revoked.Set("user-1", time.Now())
	_, err := v.Verify(context.Background(), tok)
	wantKind(t, err, errs.Unauthenticated, "unauthenticated", tok)
	if !errors.Is(err, auth.ErrTokenRevoked) {
		t.Errorf("cached token after its user's revocation: %v, want ErrTokenRevoked", err)
	}
	mustVerify(t, v, other) // another user's token is not touched

	clk.advance(authtest.TokenLifetime + auth.DefaultLeeway + time.Minute)
	_, err = v.Verify(context.Background(), other)
	if !errors.Is(err, auth.ErrTokenExpired) {
		t.Errorf("cached token past its expiry: %v, want ErrTokenExpired", err)
	}
}

// The cache holds at most its size, however many tokens go through it.
func TestTokenCacheIsBounded(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.TokenCacheSize = 64 })
	for i := range 300 {
		mustVerify(t, v, iss.Token(fmt.Sprintf("user-%d", i)))
	}
	if got := auth.CachedTokens(v); got > 64 || got < 32 {
		t.Errorf("%d tokens cached after 300, want at most 64 (and not empty)", got)
	}
	none := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.TokenCacheSize = -1 })
	mustVerify(t, none, iss.Token("user-1"))
	if got := auth.CachedTokens(none); got != 0 {
		t.Errorf("%d tokens cached with the cache off", got)
	}
}

// A token seen again costs a hash and a map lookup, not a parse: a handful
// of allocations instead of over a hundred.
func TestCachedTokenAllocations(t *testing.T) {
	iss := authtest.NewIssuer(t)
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.Revocations = &auth.RevocationList{} })
	tok := iss.Token("user-1", "customer")
	mustVerify(t, v, tok)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations to verify a cached token, want at most 5", allocs)
	}
}
