package identity

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/testkit"
)

// TestExpiredBearerOnPublicRoutes: a client that sends its expired access
// token along, as most client libraries do, can still refresh, log in and
// register; only the routes that need a login refuse it, saying it expired.
func TestExpiredBearerOnPublicRoutes(t *testing.T) {
	// Identity's clock runs an hour behind the verifier's (the real one), so
	// the access tokens it issues have expired when they are presented.
	clock := testkit.NewClockAt(time.Now().UTC().Add(-time.Hour))
	e := start(t, sqliteURL(t), func(c *Config) { c.now = clock.Now })
	s := e.register("stale@example.com", goodPassword)
	stale := s.AccessToken

	r := e.do("POST", "/api/v1/auth/refresh", stale, map[string]any{"refresh_token": s.RefreshToken})
	expect(t, r, http.StatusOK, "")
	expect(t, e.do("POST", "/api/v1/auth/login", stale,
		map[string]any{"email": "stale@example.com", "password": goodPassword}), http.StatusOK, "")
	expect(t, e.do("POST", "/api/v1/auth/register", stale, map[string]any{
		"email": "other@example.com", "password": goodPassword, "name": "Other"}), http.StatusCreated, "")
	expect(t, e.do("GET", "/.well-known/jwks.json", "not-a-token", nil), http.StatusOK, "")

	me := e.do("GET", "/api/v1/users/me", stale, nil)
	expect(t, me, http.StatusUnauthorized, "unauthenticated")
	if !strings.Contains(string(me.Body), "expired") {
		t.Errorf("GET /users/me with an expired token: %s; want that it expired", me.Body)
	}
}
