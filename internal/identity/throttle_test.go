package identity

import (
	"net/http"
	"os"
	"strconv"
	"testing"

	"emporium/internal/platform/bus/bustest"
)

func from(addr string) []string { return []string{"X-Forwarded-For", addr} }

func TestThrottlePerAccount(t *testing.T) {
	e := start(t, sqliteURL(t), func(c *Config) { c.LoginFailuresPerAccount = 3 })
	e.register("tim@example.com", goodPassword)
	e.register("tom@example.com", goodPassword)
	// A success clears the account's count.
	for range 2 {
		expect(t, e.login("tim@example.com", "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	}
	expect(t, e.login("tim@example.com", goodPassword), http.StatusOK, "")
	for range 3 {
		expect(t, e.login("tim@example.com", "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	}
	// Now even the right password is refused, with Retry-After.
	r := e.login("tim@example.com", goodPassword)
	expect(t, r, http.StatusTooManyRequests, "rate_limited")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 15*60 {
		t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	// Another account from the same address is not affected.
	expect(t, e.login("tom@example.com", goodPassword), http.StatusOK, "")
}

func TestThrottlePerAddress(t *testing.T) {
	e := start(t, sqliteURL(t), func(c *Config) { c.LoginFailuresPerAddress = 3; c.RegistrationsPerAddress = 2 })
	e.register("ann@example.com", goodPassword)
	for _, email := range []string{"x1@example.com", "x2@example.com", "x3@example.com"} {
		expect(t, e.login(email, goodPassword, from("198.51.100.7")...), http.StatusUnauthorized, "invalid_credentials")
	}
	expect(t, e.login("ann@example.com", goodPassword, from("198.51.100.7")...), http.StatusTooManyRequests, "rate_limited")
	expect(t, e.login("ann@example.com", goodPassword, from("198.51.100.8")...), http.StatusOK, "")

	// Registrations: two per address, then 429.
	reg := func(email, addr string) response {
		return e.do("POST", "/api/v1/auth/register", "", map[string]string{
			"email": email, "password": goodPassword, "name": "R"}, from(addr)...)
	}
	expect(t, reg("r1@example.com", "203.0.113.1"), http.StatusCreated, "")
	expect(t, reg("r2@example.com", "203.0.113.1"), http.StatusCreated, "")
	expect(t, reg("r3@example.com", "203.0.113.1"), http.StatusTooManyRequests, "rate_limited")
	expect(t, reg("r3@example.com", "203.0.113.2"), http.StatusCreated, "")
}

// TestThrottleSharedThroughRedis: two replicas count one account's failures together.
func TestThrottleSharedThroughRedis(t *testing.T) {
	redisURL := os.Getenv("EMPORIUM_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("needs Redis: set EMPORIUM_TEST_REDIS_URL (CI does)")
	}
	email := "shared-" + bustest.Unique() + "@example.com"
	edit := func(c *Config) { c.RedisURL, c.LoginFailuresPerAccount = redisURL, 3 }
	a := start(t, sqliteURL(t), edit)
	b := start(t, sqliteURL(t), edit)
	a.register(email, goodPassword)
	b.register(email, goodPassword)
	expect(t, a.login(email, "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	expect(t, b.login(email, "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	expect(t, a.login(email, "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	expect(t, b.login(email, goodPassword), http.StatusTooManyRequests, "rate_limited")
	expect(t, a.login(email, goodPassword), http.StatusTooManyRequests, "rate_limited")
}
