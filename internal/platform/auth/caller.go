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

// CallerFrom returns the caller in ctx, and false for an anonymous request.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
