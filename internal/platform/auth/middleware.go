package auth

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"emporium/internal/platform/web"
)

// Authenticate verifies the bearer token of each request that sends one and
// puts its Caller in the request context. A request without an Authorization
// header goes on anonymously (RequireUser and RequireRole decide later); a
// malformed header or a token that fails verification is answered with a 401
// problem (503 when the keys cannot be fetched) and goes no further.
func Authenticate(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header.Values("Authorization")
			if len(values) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			token, ok := bearerToken(values)
			if !ok {
				web.WriteError(w, r, ErrMalformedHeader)
				return
			}
			c, err := v.Verify(r.Context(), token)
			if err != nil {
				web.WriteError(w, r, err)
				return
			}
			ctx := WithCaller(r.Context(), c)
			ctx = web.WithLogger(ctx, web.Logger(ctx).With(slog.String("user_id", c.UserID)))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// bearerToken extracts the token from exactly one "Bearer <token>" header
// value; the scheme is case-insensitive (RFC 9110).
func bearerToken(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// RequireUser answers 401 to anonymous requests and calls h for the others.
// It relies on Authenticate having run before it.
func RequireUser(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, ok := CallerFrom(r.Context()); !ok {
			return ErrAuthRequired
		}
		return h(w, r)
	}
}

// RequireRole answers 401 to anonymous requests, 403 to callers without role,
// and calls h for the others.
func RequireRole(role string, h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, ok := CallerFrom(r.Context())
		if !ok {
			return ErrAuthRequired
		}
		if !c.HasRole(role) {
			return fmt.Errorf("require role %q: %w", role, ErrForbidden)
		}
		return h(w, r)
	}
}
