package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/errs"
)

func TestRevokedTokensAreRefused(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	var revoked auth.RevocationList
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.Revocations = &revoked })
	now := time.Now().Truncate(time.Second)
	issuedAt := func(user string, at time.Time) string {
		return iss.TokenWith(func(c *authtest.Claims) { c.Subject, c.IssuedAt = user, at })
	}
	revoked.Set("user-1", now.Add(-time.Minute))

	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{"issued before the revocation", issuedAt("user-1", now.Add(-2*time.Minute)), false},
		{"issued a second before", issuedAt("user-1", now.Add(-61*time.Second)), false},
		{"issued at the revocation", issuedAt("user-1", now.Add(-time.Minute)), true},
		{"issued after", issuedAt("user-1", now), true},
		{"another user", issuedAt("user-2", now.Add(-2*time.Minute)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("accepted = %v, want %v (err: %v)", got, tt.wantOK, err)
			}
			if !tt.wantOK {
				if !errors.Is(err, auth.ErrTokenRevoked) {
					t.Errorf("err = %v, want ErrTokenRevoked", err)
				}
				wantKind(t, err, errs.Unauthenticated, "unauthenticated", tt.token)
			}
		})
	}
}

func TestRevocationComparesWholeSeconds(t *testing.T) {
	t.Parallel()
	// iat has one-second resolution: a token minted in the same second as the
	// revocation (a login right after a password change) must work.
	iss := authtest.NewIssuer(t)
	var revoked auth.RevocationList
	v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.Revocations = &revoked })
	sec := time.Now().Add(-time.Minute).Truncate(time.Second)
	revoked.Set("user-1", sec.Add(900*time.Millisecond))
	tok := iss.TokenWith(func(c *authtest.Claims) { c.IssuedAt = sec.Add(950 * time.Millisecond) })
	mustVerify(t, v, tok)
}

func TestRevocationListKeepsTheLatest(t *testing.T) {
	t.Parallel()
	var l auth.RevocationList
	if got := l.NotBefore("user-1"); !got.IsZero() {
		t.Fatalf("NotBefore of an empty list = %v, want zero", got)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	steps := []struct {
		set  time.Time
		want time.Time
	}{
		{t0, t0},
		{t0.Add(time.Hour), t0.Add(time.Hour)},
		{t0, t0.Add(time.Hour)}, // an older, redelivered event changes nothing
	}
	for i, s := range steps {
		l.Set("user-1", s.set)
		if got := l.NotBefore("user-1"); !got.Equal(s.want) {
			t.Errorf("step %d: NotBefore = %v, want %v", i, got, s.want)
		}
	}
	l.Set("user-2", t0)
	l.Prune(t0.Add(time.Minute))
	if got := l.NotBefore("user-2"); !got.IsZero() {
		t.Errorf("after Prune, NotBefore(user-2) = %v, want zero", got)
	}
	if got := l.NotBefore("user-1"); !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("after Prune, NotBefore(user-1) = %v, want %v", got, t0.Add(time.Hour))
	}
}

func TestRevocationListConcurrentUse(t *testing.T) {
	t.Parallel()
	var l auth.RevocationList
	base := time.Now()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			l.Set("user-1", base.Add(time.Duration(i)*time.Second))
			_ = l.NotBefore("user-1")
		})
	}
	wg.Wait()
	if got, want := l.NotBefore("user-1"), base.Add(49*time.Second); !got.Equal(want) {
		t.Errorf("NotBefore = %v, want the latest %v", got, want)
	}
}
