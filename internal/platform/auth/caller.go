package auth

import (
	"context"
	"slices"
	"time"
)

// The roles an access token can carry.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// Caller is the verified user behind a request.
type Caller struct {
	UserID    string
	Roles     []string
	TokenID   string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// HasRole reports whether the caller's token grants role.
func (c Caller) HasRole(role string) bool {
	return slices.Contains(c.Roles, role)
}

// IsAdmin reports whether the caller has the admin role.
func (c Caller) IsAdmin() bool {
	return c.HasRole(RoleAdmin)
}

type callerKey struct{}

// WithCaller returns a context that carries c. Authenticate calls it; tests
// may call it to skip token verification.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx, and false for an anonymous request,
// including one whose token failed verification (see Authenticate). It suits
// a route that needs no login and at most shows a caller more (an admin sees
// drafts): there a bad token is no token.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// CallerOrGuest tells the three kinds of request apart for a route that
// serves anonymous and logged-in callers differently (a guest cart or the
// user's own): a verified caller (c, true, nil); a guest who sent no token
// (false, nil); and one who sent a token that failed verification (false and
// the TokenError). Such a route must answer that error — a 401, or a 503 when
// the keys cannot be fetched — rather than treat the caller as a guest: a user
// whose token just expired would otherwise silently be served someone else's
// (an empty guest) state, and could act on it.
func CallerOrGuest(ctx context.Context) (c Caller, ok bool, err error) {
	if c, ok := CallerFrom(ctx); ok {
		return c, true, nil
	}
	return Caller{}, false, TokenError(ctx)
}

type tokenErrorKey struct{}

func withTokenError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, tokenErrorKey{}, err)
}

// TokenError returns why the request's bearer token was not accepted (an
// errs.Unauthenticated error such as ErrTokenExpired or ErrMalformedHeader, or
// ErrKeysUnavailable), or nil when the request sent none or a valid one.
func TokenError(ctx context.Context) error {
	err, _ := ctx.Value(tokenErrorKey{}).(error)
	return err
}
