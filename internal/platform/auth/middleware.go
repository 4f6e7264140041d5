package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"emporium/internal/platform/web"
)

// Authenticate verifies the bearer token of each request that sends one and
// puts its Caller in the request context.
//
// Authenticate itself never refuses a request: whether a bad token matters
// depends on the route. A request without an Authorization header goes on
// anonymously; so does one whose header is malformed, whose token fails
// verification (invalid, expired, revoked) or cannot be checked because the
// signing keys cannot be fetched — with that failure recorded in the context
// (see TokenError). So a route that needs no login (login, register, refresh,
// the public catalog) serves a client that sends a stale access token along,
// as most client libraries do, as it serves an anonymous one; RequireUser and
// RequireRole answer the recorded failure (a 401 that says what was wrong, or
// the 503 of ErrKeysUnavailable); and a route that serves anonymous and
// logged-in callers differently asks CallerOrGuest.
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
				next.ServeHTTP(w, r.WithContext(withTokenError(r.Context(), ErrMalformedHeader)))
				return
			}
			c, err := v.Verify(r.Context(), token)
			if err != nil {
				next.ServeHTTP(w, r.WithContext(withTokenError(r.Context(), err)))
				return
			}
			ctx := WithCaller(r.Context(), c)
			ctx = web.WithLogAttr(ctx, slog.String("user_id", c.UserID))
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

// RequireUser calls h for a request with a verified caller. Any other
// request is refused with what was wrong: the recorded TokenError (401 for a
// bad token, 503 when the keys cannot be fetched), or ErrAuthRequired (401)
// when no token was sent. It relies on Authenticate having run before it.
func RequireUser(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := requireCaller(r.Context()); err != nil {
			return err
		}
		return h(w, r)
	}
}

// RequireRole is RequireUser that also answers 403 to callers without role.
func RequireRole(role string, h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := requireCaller(r.Context())
		if err != nil {
			return err
		}
		if !c.HasRole(role) {
			return fmt.Errorf("require role %q: %w", role, ErrForbidden)
		}
		return h(w, r)
	}
}

func requireCaller(ctx context.Context) (Caller, error) {
	c, ok, err := CallerOrGuest(ctx)
	switch {
	case err != nil:
		return Caller{}, err
	case !ok:
		return Caller{}, ErrAuthRequired
	}
	return c, nil
}
