package auth_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/web"
)

// newAPI serves, behind Authenticate(v): /open (anyone), /user (RequireUser),
// /admin (RequireRole admin) and /both (a guest or a user, told apart by
// CallerOrGuest). Each answers who the caller is.
func newAPI(t *testing.T, v *auth.Verifier) *httptest.Server {
	t.Helper()
	whoami := func(w http.ResponseWriter, r *http.Request) error {
		c, ok := auth.CallerFrom(r.Context())
		if !ok {
			return web.JSON(w, http.StatusOK, map[string]string{"user": "anonymous"})
		}
		return web.JSON(w, http.StatusOK, map[string]string{"user": c.UserID})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /open", web.HandlerFunc(whoami))
	mux.Handle("GET /user", auth.RequireUser(whoami))
	mux.Handle("GET /admin", auth.RequireRole(auth.RoleAdmin, whoami))
	mux.Handle("GET /both", web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		c, ok, err := auth.CallerOrGuest(r.Context())
		switch {
		case err != nil:
			return err
		case !ok:
			return web.JSON(w, http.StatusOK, map[string]string{"user": "guest"})
		}
		return web.JSON(w, http.StatusOK, map[string]string{"user": c.UserID})
	}))
	srv := httptest.NewServer(auth.Authenticate(v)(mux))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status  int
	header  http.Header
	body    string
	user    string
	code    string
	problem bool
}

func get(t *testing.T, url string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ User, Code string }
	_ = json.Unmarshal(b, &m)
	return response{
		status: resp.StatusCode, header: resp.Header, body: string(b), user: m.User, code: m.Code,
		problem: resp.Header.Get("Content-Type") == "application/problem+json",
	}
}

func TestAuthenticateThroughHTTP(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	srv := newAPI(t, iss.Verifier(t))
	customer := iss.Token("cust-1", auth.RoleCustomer)
	admin := iss.Token("admin-1", auth.RoleCustomer, auth.RoleAdmin)
	bad := customer[:len(customer)-4] + "AAAA"
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	authz := func(v ...string) http.Header { return http.Header{"Authorization": v} }

	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
		wantUser   string // for 200
		wantCode   string // for problems
	}{
		{"anonymous passes", "/open", nil, 200, "anonymous", ""},
		{"customer on open route", "/open", bearer(customer), 200, "cust-1", ""},
		{"lower-case scheme", "/open", authz("bearer " + customer), 200, "cust-1", ""},
		// A route that needs no login takes a bad token for no token.
		{"bad signature on open route", "/open", bearer(bad), 200, "anonymous", ""},
		{"garbage token on open route", "/open", bearer("nope"), 200, "anonymous", ""},
		{"other scheme on open route", "/open", authz("Basic dXNlcjpwYXNz"), 200, "anonymous", ""},
		{"empty header on open route", "/open", authz(""), 200, "anonymous", ""},
		{"two tokens on open route", "/open", authz("Bearer "+customer, "Bearer "+admin), 200,
			"anonymous", ""},
		{"user route anonymous", "/user", nil, 401, "", "unauthenticated"},
		{"user route customer", "/user", bearer(customer), 200, "cust-1", ""},
		{"user route bad signature", "/user", bearer(bad), 401, "", "unauthenticated"},
		{"user route garbage token", "/user", bearer("nope"), 401, "", "unauthenticated"},
		{"user route other scheme", "/user", authz("Basic dXNlcjpwYXNz"), 401, "", "unauthenticated"},
		{"user route empty header", "/user", authz(""), 401, "", "unauthenticated"},
		{"user route scheme only", "/user", authz("Bearer"), 401, "", "unauthenticated"},
		{"user route empty token", "/user", authz("Bearer "), 401, "", "unauthenticated"},
		{"user route two tokens", "/user", authz("Bearer "+customer, "Bearer "+admin), 401, "",
			"unauthenticated"},
		{"admin route anonymous", "/admin", nil, 401, "", "unauthenticated"},
		{"admin route customer", "/admin", bearer(customer), 403, "", "forbidden"},
		{"admin route admin", "/admin", bearer(admin), 200, "admin-1", ""},
		{"admin route bad token", "/admin", bearer(bad), 401, "", "unauthenticated"},
		// A route that serves guests and users differently refuses a bad token.
		{"guest route anonymous", "/both", nil, 200, "guest", ""},
		{"guest route customer", "/both", bearer(customer), 200, "cust-1", ""},
		{"guest route bad token", "/both", bearer(bad), 401, "", "unauthenticated"},
		{"guest route malformed header", "/both", authz("Basic dXNlcjpwYXNz"), 401, "",
			"unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := get(t, srv.URL+tt.path, tt.header)
			if got.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", got.status, tt.wantStatus, got.body)
			}
			if tt.wantStatus == 200 {
				if got.user != tt.wantUser {
					t.Errorf("user = %q, want %q", got.user, tt.wantUser)
				}
				return
			}
			if !got.problem || got.code != tt.wantCode {
				t.Errorf("problem = %v, code = %q; want a problem with code %q (body %s)",
					got.problem, got.code, tt.wantCode, got.body)
			}
			wantAuth := tt.wantStatus == 401
			challenge := got.header.Get("WWW-Authenticate")
			if gotAuth := strings.HasPrefix(challenge, "Bearer"); gotAuth != wantAuth {
				t.Errorf("WWW-Authenticate = %q; want a Bearer challenge: %v", challenge, wantAuth)
			}
			for _, tok := range []string{customer, admin, bad} {
				if strings.Contains(got.body, tok) {
					t.Errorf("body echoes a token: %s", got.body)
				}
			}
		})
	}
}

// TestExpiredToken: an expired token is no token where no login is needed
// (so a client that sends it along with its refresh can refresh), and a 401
// that says it expired where one is.
func TestExpiredToken(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	srv := newAPI(t, iss.Verifier(t))
	tok := iss.TokenWith(func(c *authtest.Claims) {
		c.IssuedAt = c.IssuedAt.Add(-authtest.TokenLifetime - 5*time.Minute)
		c.NotBefore = c.IssuedAt
		c.Expiry = c.IssuedAt.Add(authtest.TokenLifetime)
	})
	bearer := http.Header{"Authorization": {"Bearer " + tok}}
	if got := get(t, srv.URL+"/open", bearer); got.status != 200 || got.user != "anonymous" {
		t.Errorf("open route: status %d, body %s; want 200 anonymous", got.status, got.body)
	}
	for _, path := range []string{"/user", "/admin", "/both"} {
		got := get(t, srv.URL+path, bearer)
		if got.status != 401 || !strings.Contains(got.body, "expired") ||
			!strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: status %d, WWW-Authenticate %q, body %s; want a 401 Bearer challenge "+
				"saying the token expired", path, got.status, got.header.Get("WWW-Authenticate"), got.body)
		}
	}
}

// TestAuthenticateJWKSDown: when no token can be checked, a route that needs
// a login answers 503 with Retry-After, and one that needs none serves the
// request anonymously.
func TestAuthenticateJWKSDown(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	srv := newAPI(t, iss.Verifier(t))
	tok := iss.Token("cust-1")
	iss.FailJWKS(http.StatusServiceUnavailable)
	bearer := http.Header{"Authorization": {"Bearer " + tok}}
	for _, path := range []string{"/user", "/admin", "/both"} {
		got := get(t, srv.URL+path, bearer)
		if got.status != 503 || got.code != "unavailable" || got.header.Get("Retry-After") == "" {
			t.Errorf("%s: status %d, code %q, Retry-After %q; want 503 unavailable with Retry-After",
				path, got.status, got.code, got.header.Get("Retry-After"))
		}
	}
	if got := get(t, srv.URL+"/open", bearer); got.status != 200 || got.user != "anonymous" {
		t.Errorf("open route with a token while JWKS down: status %d, body %s; want 200 anonymous",
			got.status, got.body)
	}
	if got := get(t, srv.URL+"/open", nil); got.status != 200 {
		t.Errorf("anonymous while JWKS down: status %d, want 200", got.status)
	}
}

func TestCallerContext(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if _, ok := auth.CallerFrom(ctx); ok {
		t.Fatal("CallerFrom of a bare context: ok = true")
	}
	want := auth.Caller{UserID: "u", Roles: []string{auth.RoleCustomer}}
	got, ok := auth.CallerFrom(auth.WithCaller(ctx, want))
	if !ok || got.UserID != want.UserID {
		t.Errorf("CallerFrom(WithCaller(c)) = %+v, %v; want %+v, true", got, ok, want)
	}
	tests := []struct {
		roles     []string
		wantAdmin bool
	}{
		{nil, false},
		{[]string{auth.RoleCustomer}, false},
		{[]string{auth.RoleCustomer, auth.RoleAdmin}, true},
	}
	for _, tt := range tests {
		c := auth.Caller{Roles: tt.roles}
		if got := c.IsAdmin(); got != tt.wantAdmin {
			t.Errorf("%s IsAdmin = %v, want %v", fmt.Sprint(tt.roles), got, tt.wantAdmin)
		}
	}
}
