package identity

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/testkit"
)

func TestMe(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		s := e.register("meg@example.com", goodPassword)
		expect(t, e.do("GET", "/api/v1/users/me", "", nil), http.StatusUnauthorized, "unauthenticated")
		r := e.do("GET", "/api/v1/users/me", "", nil)
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: %v", r.Header)
		}
		expect(t, e.do("GET", "/api/v1/users/me", "garbage", nil), http.StatusUnauthorized, "unauthenticated")

		patch := func(body string) response { return e.do("PATCH", "/api/v1/users/me", s.AccessToken, body) }
		var u User
		r = patch(`{"name":" Meg ","phone":"+447700900123","sms_opt_in":true}`)
		expect(t, r, http.StatusOK, "")
		r.JSON(t, &u)
		if u.Name != "Meg" || u.Phone == nil || *u.Phone != "+447700900123" || !u.SMSOptIn {
			t.Errorf("after patch: %+v", u)
		}
		// Absent fields stay; null removes the phone, and SMS with it.
		expect(t, patch(`{"phone":null,"sms_opt_in":true}`), http.StatusUnprocessableEntity, "validation_failed")
		r = patch(`{"phone":null}`)
		expect(t, r, http.StatusOK, "")
		r.JSON(t, &u)
		if u.Name != "Meg" || u.Phone != nil || u.SMSOptIn {
			t.Errorf("after removing the phone: %+v", u)
		}
		tests := []struct {
			body  string
			field string
		}{
			{`{"roles":["admin"]}`, "roles"},
			{`{"email":"x@example.com"}`, "email"},
			{`{"name":null}`, "name"},
			{`{"name":""}`, "name"},
			{`{"phone":"12345"}`, "phone"},
			{`{"sms_opt_in":true}`, "sms_opt_in"}, // no phone
			{`{"sms_opt_in":"yes"}`, "sms_opt_in"},
		}
		for _, tt := range tests {
			r := patch(tt.body)
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			if _, fields := r.Problem(t); !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("%s: fields %q, want %q", tt.body, fields, tt.field)
			}
		}
		var me User
		e.do("GET", "/api/v1/users/me", s.AccessToken, nil).JSON(t, &me)
		if !slices.Equal(me.Roles, []string{"customer"}) {
			t.Errorf("roles changed to %q", me.Roles)
		}
	})
}

func TestChangePassword(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		s := e.register("pat@example.com", goodPassword)
		var other Session
		e.login("pat@example.com", goodPassword).JSON(t, &other)
		change := func(cur, next string) response {
			return e.do("POST", "/api/v1/users/me/password", s.AccessToken,
				map[string]string{"current_password": cur, "new_password": next})
		}
		expect(t, change("wrong password", "a brand new secret"), http.StatusForbidden, "invalid_credentials")
		expect(t, change(goodPassword, "short"), http.StatusUnprocessableEntity, "validation_failed")
		expect(t, change(goodPassword, "iloveyou"), http.StatusUnprocessableEntity, "validation_failed")
		expect(t, change(goodPassword, "a brand new secret"), http.StatusNoContent, "")

		expect(t, e.login("pat@example.com", goodPassword), http.StatusUnauthorized, "invalid_credentials")
		expect(t, e.login("pat@example.com", "a brand new secret"), http.StatusOK, "")
		for _, tok := range []string{s.RefreshToken, other.RefreshToken} {
			expect(t, e.refresh(tok), http.StatusUnauthorized, "invalid_refresh_token")
		}
		eventually(t, 5*time.Second, "the old access token is refused", func() bool {
			return e.do("GET", "/api/v1/users/me", other.AccessToken, nil).Status == http.StatusUnauthorized
		})
		for _, secret := range []string{goodPassword, "a brand new secret", s.RefreshToken, s.AccessToken, "$argon2id$"} {
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("the logs contain a secret (%.12s…)", secret)
			}
		}
	})
}

// TestTimesAnsweredAsStored: the created_at a registration answers is the one
// every later read answers (PostgreSQL keeps microseconds, the clock has
// nanoseconds).
func TestTimesAnsweredAsStored(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		// Near the real time, which the verifier of the access token uses,
		// with nanoseconds that a microsecond column cannot keep.
		born := time.Now().UTC().Truncate(time.Second).Add(123456789)
		clock := testkit.NewClockAt(born)
		e := start(t, dbURL, func(c *Config) { c.now = clock.Now })
		var s Session
		r := e.do("POST", "/api/v1/auth/register", "", map[string]any{
			"email": "tim@example.com", "password": goodPassword, "name": "Tim"})
		expect(t, r, http.StatusCreated, "")
		r.JSON(t, &s)
		var me User
		r = e.do("GET", "/api/v1/users/me", s.AccessToken, nil)
		expect(t, r, http.StatusOK, "")
		r.JSON(t, &me)
		if want := born.Truncate(time.Microsecond); !s.User.CreatedAt.Equal(want) {
			t.Errorf("registering answered created_at %v, want %v", s.User.CreatedAt, want)
		}
		if !me.CreatedAt.Equal(s.User.CreatedAt) {
			t.Errorf("registering answered created_at %v, reading it back %v",
				s.User.CreatedAt, me.CreatedAt)
		}
	})
}
