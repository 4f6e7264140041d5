package identity

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const goodPassword = "correct horse battery"

func TestRegister(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		r := e.do("POST", "/api/v1/auth/register", "", map[string]any{
			"email": "  Ada@Example.COM ", "password": goodPassword, "name": " Ada Lovelace ", "phone": "+14155550100"})
		expect(t, r, http.StatusCreated, "")
		var s Session
		r.JSON(t, &s)
		if s.User.Email != "ada@example.com" || s.User.Name != "Ada Lovelace" || s.TokenType != "Bearer" ||
			s.ExpiresIn != 900 || s.AccessToken == "" || len(s.RefreshToken) < 43 ||
			!slices.Equal(s.User.Roles, []string{"customer"}) || *s.User.Phone != "+14155550100" {
			t.Errorf("session = %+v", s)
		}
		me := e.do("GET", "/api/v1/users/me", s.AccessToken, nil)
		expect(t, me, http.StatusOK, "")

		// The same email in another case is taken.
		r = e.do("POST", "/api/v1/auth/register", "", map[string]any{
			"email": "ADA@example.com", "password": goodPassword, "name": "Imposter"})
		expect(t, r, http.StatusConflict, "email_taken")

		tests := []struct {
			name   string
			body   string
			status int
			code   string
			fields []string
		}{
			{"roles are not for customers", `{"email":"b@example.com","password":"` + goodPassword +
				`","name":"B","roles":["admin"]}`, 422, "validation_failed", []string{"roles"}},
			{"bad email", `{"email":"not-an-email","password":"` + goodPassword + `","name":"B"}`,
				422, "validation_failed", []string{"email"}},
			{"no email", `{"password":"` + goodPassword + `","name":"B"}`, 422, "validation_failed", []string{"email"}},
			{"short password", `{"email":"b@example.com","password":"short","name":"B"}`,
				422, "validation_failed", []string{"password"}},
			{"long password", `{"email":"b@example.com","password":"` + strings.Repeat("x", 129) + `","name":"B"}`,
				422, "validation_failed", []string{"password"}},
			{"common password", `{"email":"b@example.com","password":"Password123","name":"B"}`,
				422, "validation_failed", []string{"password"}},
			{"empty name", `{"email":"b@example.com","password":"` + goodPassword + `","name":"  "}`,
				422, "validation_failed", []string{"name"}},
			{"long name", `{"email":"b@example.com","password":"` + goodPassword + `","name":"` +
				strings.Repeat("n", 101) + `"}`, 422, "validation_failed", []string{"name"}},
			{"bad phone", `{"email":"b@example.com","password":"` + goodPassword + `","name":"B","phone":"555-0100"}`,
				422, "validation_failed", []string{"phone"}},
			{"everything wrong at once", `{"email":"x","password":"123","name":""}`,
				422, "validation_failed", []string{"email", "password", "name"}},
			{"wrong type", `{"email":42,"password":"` + goodPassword + `","name":"B"}`,
				422, "validation_failed", []string{"email"}},
			{"malformed", `{"email":`, 400, "malformed_json", nil},
			{"not an object", `[1,2]`, 400, "malformed_json", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/api/v1/auth/register", "", tt.body)
				expect(t, r, tt.status, tt.code)
				if _, fields := r.Problem(t); !slices.Equal(fields, tt.fields) {
					t.Errorf("fields %q, want %q", fields, tt.fields)
				}
			})
		}
		r = e.do("POST", "/api/v1/auth/register", "", `{"email":"c@example.com"}`, "Content-Type", "text/plain")
		expect(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
		big := `{"email":"c@example.com","name":"` + strings.Repeat("x", 1<<20) + `"}`
		expect(t, e.do("POST", "/api/v1/auth/register", "", big), http.StatusRequestEntityTooLarge, "body_too_large")
	})
}

func TestLogin(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		e.register("grace@example.com", goodPassword)

		r := e.login(" GRACE@example.com", goodPassword)
		expect(t, r, http.StatusOK, "")
		var s Session
		r.JSON(t, &s)
		if s.User.Email != "grace@example.com" || s.AccessToken == "" || s.RefreshToken == "" {
			t.Errorf("session = %+v", s)
		}

		// An unknown email and a wrong password look the same, and each costs one hash.
		before := e.svc.hasher.verifications.Load()
		wrong := e.login("grace@example.com", "not the password")
		unknown := e.login("nobody@example.com", goodPassword)
		if got := e.svc.hasher.verifications.Load() - before; got != 2 {
			t.Errorf("the two failed logins verified %d hashes, want 2 (one each)", got)
		}
		expect(t, wrong, http.StatusUnauthorized, "invalid_credentials")
		expect(t, unknown, http.StatusUnauthorized, "invalid_credentials")
		if string(wrong.Body) != string(unknown.Body) {
			t.Errorf("answers differ:\n%s\n%s", wrong.Body, unknown.Body)
		}
		expect(t, e.do("POST", "/api/v1/auth/login", "", `{"email":"grace@example.com"}`),
			http.StatusUnprocessableEntity, "validation_failed")
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		first := e.register("ren@example.com", goodPassword)
		other := e.login("ren@example.com", goodPassword) // a second session
		var otherSess Session
		other.JSON(t, &otherSess)

		r := e.refresh(first.RefreshToken)
		expect(t, r, http.StatusOK, "")
		var second Session
		r.JSON(t, &second)
		if second.RefreshToken == first.RefreshToken || second.User.ID != first.User.ID {
			t.Fatalf("refresh did not rotate: %+v", second)
		}
		// The rotated token is refused, and presenting it revokes the family:
		// the token it was exchanged for stops working too.
		expect(t, e.refresh(first.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		expect(t, e.refresh(second.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		if !strings.Contains(e.logs.String(), `"event":"refresh.reuse_detected"`) {
			t.Error("reuse was not audited")
		}
		// The user's other session lives on.
		expect(t, e.refresh(otherSess.RefreshToken), http.StatusOK, "")
		expect(t, e.refresh("not-a-token"), http.StatusUnauthorized, "invalid_refresh_token")
	})
}

func TestConcurrentRefreshYieldsAtMostOnePair(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		s := e.register("con@example.com", goodPassword)
		const n = 8
		var wg sync.WaitGroup
		results := make([]response, n)
		for i := range n {
			wg.Go(func() { results[i] = e.refresh(s.RefreshToken) })
		}
		wg.Wait()
		var pairs []Session
		for _, r := range results {
			if r.Status == http.StatusOK {
				var p Session
				r.JSON(t, &p)
				pairs = append(pairs, p)
			} else if r.Status != http.StatusUnauthorized {
				t.Fatalf("refresh answered %d: %s", r.Status, r.Body)
			}
		}
		if len(pairs) > 1 {
			t.Fatalf("%d concurrent refreshes succeeded, want at most 1", len(pairs))
		}
		// Whatever was issued is dead too: every loser came after the winner
		// and presented a rotated token, which revoked the family.
		for _, p := range pairs {
			expect(t, e.refresh(p.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		}
	})
}

func TestRefreshExpiry(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clock := newClock()
		e := start(t, dbURL, func(c *Config) {
			c.now, c.RefreshIdleTTL, c.RefreshTTL = clock.Now, time.Hour, 3*time.Hour
		})
		s := e.register("exp@example.com", goodPassword)
		// Used within the idle lifetime, a session lives until its absolute end.
		for range 2 {
			clock.Advance(50 * time.Minute)
			r := e.refresh(s.RefreshToken)
			expect(t, r, http.StatusOK, "")
			r.JSON(t, &s)
		}
		clock.Advance(61 * time.Minute) // idle too long
		expect(t, e.refresh(s.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")

		// Logging out with the expired token still ends its user's sessions.
		var other Session
		e.login("exp@example.com", goodPassword).JSON(t, &other)
		expect(t, e.do("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": s.RefreshToken, "all": true}),
			http.StatusNoContent, "")
		expect(t, e.refresh(other.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")

		s = e.register("abs@example.com", goodPassword)
		for range 5 {
			clock.Advance(40 * time.Minute)
			if r := e.refresh(s.RefreshToken); r.Status == http.StatusOK {
				r.JSON(t, &s)
			} else {
				expect(t, r, http.StatusUnauthorized, "invalid_refresh_token")
				return // past the absolute lifetime
			}
		}
		t.Error("a session outlived its absolute lifetime")
	})
}

func TestLogout(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		a := e.register("lou@example.com", goodPassword)
		var b, c Session
		e.login("lou@example.com", goodPassword).JSON(t, &b)
		e.login("lou@example.com", goodPassword).JSON(t, &c)

		// Logging out with a rotated token still ends that session.
		var a2 Session
		e.refresh(a.RefreshToken).JSON(t, &a2)
		expect(t, e.do("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": a.RefreshToken}),
			http.StatusNoContent, "")
		expect(t, e.refresh(a2.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		expect(t, e.refresh(b.RefreshToken), http.StatusOK, "") // other sessions live on
		e.login("lou@example.com", goodPassword).JSON(t, &b)

		// An unknown token ends nothing and is not an error.
		expect(t, e.do("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": "nope"}),
			http.StatusNoContent, "")

		// all: true ends every session and the access tokens.
		expect(t, e.do("GET", "/api/v1/users/me", c.AccessToken, nil), http.StatusOK, "")
		expect(t, e.do("POST", "/api/v1/auth/logout", "", map[string]any{"refresh_token": b.RefreshToken, "all": true}),
			http.StatusNoContent, "")
		expect(t, e.refresh(c.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
		eventually(t, 5*time.Second, "the access token is refused", func() bool {
			return e.do("GET", "/api/v1/users/me", c.AccessToken, nil).Status == http.StatusUnauthorized
		})
		// A new login works, and its token is accepted.
		var d Session
		e.login("lou@example.com", goodPassword).JSON(t, &d)
		expect(t, e.do("GET", "/api/v1/users/me", d.AccessToken, nil), http.StatusOK, "")
	})
}
