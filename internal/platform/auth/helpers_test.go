package auth_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/testkit"
)

// clock is the real time plus an offset that tests advance.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// withClock sets a fresh clock on v and returns it.
func withClock(v *auth.Verifier) *clock {
	c := &clock{}
	auth.SetClock(v, c.now)
	return c
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, cond, "waiting for %s", what)
}

// wantKind fails unless err is an *errs.Error of kind with the given code,
// and its text does not contain the token.
func wantKind(t *testing.T, err error, kind errs.Kind, code, token string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", kind)
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *errs.Error", err)
	}
	if e.Kind != kind || e.Code != code {
		t.Errorf("kind, code = %v, %q; want %v, %q (err: %v)", e.Kind, e.Code, kind, code, err)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		t.Errorf("error text contains the token: %v", err)
	}
}
