package identity

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/openapi/openapitest"
	"emporium/internal/platform/testkit"
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

	// Only failures count: successful logins from an address give their
	// place back.
	attempts := []struct {
		email string
		times int
		want  int
	}{
		{"x1@example.com", 1, http.StatusUnauthorized},
		{"ann@example.com", 5, http.StatusOK},
		{"x2@example.com", 1, http.StatusUnauthorized},
		{"x3@example.com", 1, http.StatusUnauthorized},
		{"ann@example.com", 1, http.StatusTooManyRequests},
	}
	for _, a := range attempts {
		for range a.times {
			if r := e.login(a.email, goodPassword, from("198.51.100.9")...); r.Status != a.want {
				t.Errorf("login %s = %d, want %d", a.email, r.Status, a.want)
			}
		}
	}

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
	redisURL := testkit.Need(t, "EMPORIUM_TEST_REDIS_URL", "Redis")
	// Keys of their own in a Redis that outlives the test.
	email, addr := "shared-"+bustest.Unique()+"@example.com", uniqueAddr()
	edit := func(c *Config) {
		c.RedisURL, c.LoginFailuresPerAccount, c.redisTimeout = redisURL, 3, 10*time.Second
	}
	a := start(t, sqliteURL(t), edit)
	b := start(t, sqliteURL(t), edit)
	for _, e := range []*env{a, b} {
		expect(t, e.do("POST", "/api/v1/auth/register", "", map[string]any{
			"email": email, "password": goodPassword, "name": "S"}, from(addr)...), http.StatusCreated, "")
	}
	for _, e := range []*env{a, b, a} {
		expect(t, e.login(email, "wrong password!", from(addr)...), http.StatusUnauthorized,
			"invalid_credentials")
	}
	expect(t, b.login(email, goodPassword, from(addr)...), http.StatusTooManyRequests, "rate_limited")
	expect(t, a.login(email, goodPassword, from(addr)...), http.StatusTooManyRequests, "rate_limited")
}

// uniqueAddr returns a client address that other tests (and other runs,
// whose counts a shared Redis keeps) are unlikely to use.
func uniqueAddr() string {
	return fmt.Sprintf("198.18.%d.%d", rand.N(256), 1+rand.N(254))
}

// TestThrottleHoldsUnderConcurrency: attempts are counted before the
// password is checked, so a burst of parallel guesses gets no more checks
// than the limit, the excess is refused without waiting for any check, and
// the account is throttled afterwards.
func TestThrottleHoldsUnderConcurrency(t *testing.T) {
	stores := map[string]string{"memory": ""}
	if url := os.Getenv("EMPORIUM_TEST_REDIS_URL"); url != "" {
		stores["redis"] = url
	}
	for name, redisURL := range stores {
		t.Run(name, func(t *testing.T) {
			e := start(t, sqliteURL(t), func(c *Config) {
				c.RedisURL, c.LoginFailuresPerAccount, c.redisTimeout = redisURL, 10, 10*time.Second
			})
			// Keys of their own in a Redis that outlives the test.
			email, addr := "burst-"+bustest.Unique()+"@example.com", uniqueAddr()
			expect(t, e.do("POST", "/api/v1/auth/register", "", map[string]any{
				"email": email, "password": goodPassword, "name": "B"}, from(addr)...), http.StatusCreated, "")

			statuses := e.burst(40, 30, func(e *env) int {
				return e.login(email, "wrong password!", from(addr)...).Status
			})
			counts := map[int]int{}
			for _, s := range statuses {
				counts[s]++
			}
			want := map[int]int{http.StatusUnauthorized: 10, http.StatusTooManyRequests: 30}
			if fmt.Sprint(counts) != fmt.Sprint(want) {
				t.Errorf("40 parallel wrong passwords answered %v, want %v", counts, want)
			}
			expect(t, e.login(email, goodPassword, from(addr)...), http.StatusTooManyRequests,
				"rate_limited")
		})
	}
}

// burst sends n requests at once (send, through a copy of e) while the
// service's password hashing is stalled, waits until refused of them are
// answered (those the throttle refuses without checking a password), then
// lets hashing go on. It returns every answer's status, and fails the test
// unless exactly n-refused passwords were checked.
func (e *env) burst(n, refused int, send func(e *env) int) []int {
	e.t.Helper()
	// Each request on a connection of its own: many at once through the
	// shared transport can leave it holding connections it dialled and never
	// used, which the server's shutdown waits for.
	one := *e
	doc, err := identityDoc()
	if err != nil {
		e.t.Fatal(err)
	}
	one.client.HTTP = &http.Client{Transport: openapitest.ValidatingTransport(e.t, doc,
		&http.Transport{DisableKeepAlives: true}, "GET /readyz", "GET /livez")}
	h := e.svc.hasher
	// Take every hashing slot: password checks wait for one.
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			for range cap(h.slots) {
				<-h.slots
			}
		}
	}
	e.t.Cleanup(resume)
	before := h.verifications.Load()
	statuses := make([]int, n)
	var answered atomic.Int64
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = send(&one)
			answered.Add(1)
		})
	}
	eventually(e.t, 10*time.Second, fmt.Sprintf("%d of %d attempts are refused before any "+
		"password check", refused, n), func() bool { return answered.Load() >= int64(refused) })
	resume()
	wg.Wait()
	if checked := h.verifications.Load() - before; checked != int64(n-refused) {
		e.t.Errorf("%d parallel attempts had %d passwords checked, want %d", n, checked, n-refused)
	}
	return statuses
}

// TestThrottleCountsWrongCurrentPasswords: a wrong current password is a
// failed login of the account.
func TestThrottleCountsWrongCurrentPasswords(t *testing.T) {
	e := start(t, sqliteURL(t), func(c *Config) { c.LoginFailuresPerAccount = 3 })
	change := func(s Session, cur, next string) response {
		return e.do("POST", "/api/v1/users/me/password", s.AccessToken,
			map[string]string{"current_password": cur, "new_password": next})
	}
	const newPassword = "a brand new secret"

	s := e.register("cas@example.com", goodPassword)
	statuses := e.burst(20, 17, func(e *env) int {
		return e.do("POST", "/api/v1/users/me/password", s.AccessToken,
			map[string]string{"current_password": "wrong password!", "new_password": newPassword}).Status
	})
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	want := map[int]int{http.StatusForbidden: 3, http.StatusTooManyRequests: 17}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("20 parallel wrong current passwords answered %v, want %v", counts, want)
	}
	// Throttled: even the right current password, and the login.
	r := change(s, goodPassword, newPassword)
	expect(t, r, http.StatusTooManyRequests, "rate_limited")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 15*60 {
		t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	expect(t, e.login("cas@example.com", goodPassword), http.StatusTooManyRequests, "rate_limited")

	// A right current password takes its attempt back: only failures count.
	s = e.register("cat@example.com", goodPassword)
	for range 2 {
		expect(t, change(s, "wrong password!", newPassword), http.StatusForbidden, "invalid_credentials")
	}
	expect(t, change(s, goodPassword, newPassword), http.StatusNoContent, "")
	expect(t, e.login("cat@example.com", "wrong password!"), http.StatusUnauthorized,
		"invalid_credentials")
	expect(t, e.login("cat@example.com", newPassword), http.StatusTooManyRequests, "rate_limited")
}

// TestThrottleCountsIPv6ByPrefix: a client gets a whole /64 and can use any
// address in it; IPv4 addresses count one by one.
func TestThrottleCountsIPv6ByPrefix(t *testing.T) {
	e := start(t, sqliteURL(t), func(c *Config) {
		c.LoginFailuresPerAddress, c.RegistrationsPerAddress = 3, 1
	})
	e.register("ivy@example.com", goodPassword)
	for _, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"} {
		expect(t, e.login("nobody@example.com", goodPassword, from(addr)...), http.StatusUnauthorized,
			"invalid_credentials")
	}
	expect(t, e.login("ivy@example.com", goodPassword, from("2001:db8:1:2:ffff::9")...),
		http.StatusTooManyRequests, "rate_limited")
	expect(t, e.login("ivy@example.com", goodPassword, from("2001:db8:1:3::1")...), http.StatusOK, "")

	reg := func(email, addr string) response {
		return e.do("POST", "/api/v1/auth/register", "", map[string]string{
			"email": email, "password": goodPassword, "name": "R"}, from(addr)...)
	}
	expect(t, reg("r1@example.com", "2001:db8:9:9::1"), http.StatusCreated, "")
	expect(t, reg("r2@example.com", "2001:db8:9:9::2"), http.StatusTooManyRequests, "rate_limited")
	expect(t, reg("r2@example.com", "2001:db8:9:a::2"), http.StatusCreated, "")
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"198.51.100.7", "198.51.100.7"},
		{"::ffff:198.51.100.7", "198.51.100.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := addressKey(tt.ip); got != tt.want {
			t.Errorf("addressKey(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}

// TestLoginLogsNoEmail: failed and throttled logins are logged with a keyed
// hash of the email, the same for every line about one address, never the
// address itself.
func TestLoginLogsNoEmail(t *testing.T) {
	e := start(t, sqliteURL(t), func(c *Config) { c.LoginFailuresPerAccount = 2 })
	e.register("Priya.Private@example.com", goodPassword)
	expect(t, e.login("priya.private@example.com", "wrong password!"), http.StatusUnauthorized,
		"invalid_credentials")
	expect(t, e.login("PRIYA.PRIVATE@example.com", "wrong password!"), http.StatusUnauthorized,
		"invalid_credentials")
	expect(t, e.login("priya.private@example.com", goodPassword), http.StatusTooManyRequests,
		"rate_limited")
	expect(t, e.login("nobody.known@example.com", "wrong password!"), http.StatusUnauthorized,
		"invalid_credentials")

	logs := e.logs.String()
	for _, personal := range []string{"priya.private", "nobody.known"} {
		if strings.Contains(strings.ToLower(logs), personal) {
			t.Errorf("the logs name %s@…", personal)
		}
	}
	hashes := map[string][]string{} // by audit event
	for line := range strings.Lines(logs) {
		var l struct {
			Event     string `json:"event"`
			EmailHash string `json:"email_hash"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Event, "login.") {
			hashes[l.Event] = append(hashes[l.Event], l.EmailHash)
		}
	}
	failed, throttled := hashes["login.failed"], hashes["login.throttled"]
	if len(failed) != 3 || len(throttled) != 1 {
		t.Fatalf("login lines: %q, want 3 failed and 1 throttled", hashes)
	}
	if failed[0] == "" || failed[1] != failed[0] || throttled[0] != failed[0] {
		t.Errorf("the lines about one address carry hashes %q and %q, want one", failed[:2], throttled)
	}
	if failed[2] == "" || failed[2] == failed[0] {
		t.Errorf("two addresses have the hashes %q and %q", failed[0], failed[2])
	}
}
