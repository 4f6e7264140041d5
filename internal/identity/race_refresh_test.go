package identity

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The tests in this file race a refresh with each request that ends its
// session: a password change, logout with all, logout, and the reuse of an
// already rotated token of the same session. Whatever the order, a refresh
// must not hand out a pair that outlives the revocation: when it answers a
// pair, that pair's refresh token is dead afterwards and, where the
// revocation also ends access tokens, its access token was issued before
// tokens_not_before. On PostgreSQL interleaveAt forces the two dangerous
// orders: the revocation waits to commit while the refresh runs, and the
// refresh stops after its reads while the revocation runs.

// A revoker ends the session the race's refresh uses. sessions are the
// user's sessions: [0] from registering, [1] from a login, [2] the refresh of
// [1] (so [1]'s refresh token is already rotated and [2]'s is the one raced).
type revoker struct {
	name         string
	endsAccess   bool   // it also ends the user's access tokens
	writesOutbox bool   // so atOutbox can hold it before its commit
	status       int    // its answer
	code         string // its problem code, if any
	do           func(e *env, sessions []Session) response
}

var revokers = []revoker{
	{name: "password change", endsAccess: true, writesOutbox: true, status: http.StatusNoContent,
		do: func(e *env, s []Session) response {
			return e.do("POST", "/api/v1/users/me/password", s[0].AccessToken,
				map[string]string{"current_password": goodPassword, "new_password": "a brand new secret"})
		}},
	{name: "logout all", endsAccess: true, writesOutbox: true, status: http.StatusNoContent,
		do: func(e *env, s []Session) response {
			return e.do("POST", "/api/v1/auth/logout", "",
				map[string]any{"refresh_token": s[0].RefreshToken, "all": true})
		}},
	{name: "logout", status: http.StatusNoContent,
		do: func(e *env, s []Session) response {
			return e.do("POST", "/api/v1/auth/logout", "",
				map[string]any{"refresh_token": s[2].RefreshToken})
		}},
	{name: "reuse", status: http.StatusUnauthorized, code: "invalid_refresh_token",
		do: func(e *env, s []Session) response { return e.refresh(s[1].RefreshToken) }},
}

func TestRevocationRacingRefresh(t *testing.T) {
	for _, rv := range revokers {
		for _, h := range []hold{atOutbox, atRotation} {
			if h == atOutbox && !rv.writesOutbox {
				continue
			}
			revokerFirst := h == atOutbox
			name := rv.name + " then refresh"
			if !revokerFirst {
				name = "refresh then " + rv.name
			}
			t.Run(name, func(t *testing.T) {
				eachDB(t, func(t *testing.T, dbURL string) {
					raceRevocation(t, dbURL, rv, revokerFirst, h)
				})
			})
		}
	}
}

func raceRevocation(t *testing.T, dbURL string, rv revoker, revokerFirst bool, h hold) {
	e := start(t, dbURL, nil)
	s := []Session{e.register("rita@example.com", goodPassword), {}, {}}
	e.login("rita@example.com", goodPassword).JSON(t, &s[1])
	r := e.refresh(s[1].RefreshToken)
	expect(t, r, http.StatusOK, "")
	r.JSON(t, &s[2])

	var revoked, refreshed response
	revoke := func() { revoked = rv.do(e, s) }
	refresh := func() { refreshed = e.refresh(s[2].RefreshToken) }
	var revokedWhileStopped bool
	if revokerFirst {
		interleaveAt(t, dbURL, h, revoke, refresh)
	} else {
		revokedWhileStopped = interleaveAt(t, dbURL, h, refresh, revoke)
	}
	expect(t, revoked, rv.status, rv.code)
	pg := strings.HasPrefix(dbURL, "postgres")
	switch {
	case refreshed.Status == http.StatusUnauthorized:
		expect(t, refreshed, http.StatusUnauthorized, "invalid_refresh_token")
		return
	case refreshed.Status != http.StatusOK:
		t.Fatalf("the refresh answered %d: %s", refreshed.Status, refreshed.Body)
	case pg && revokerFirst:
		t.Fatal("the refresh waited for the revocation to commit, and then answered a pair")
	case revokedWhileStopped:
		t.Fatal("the revocation committed after the refresh read its session and before it " +
			"went on, and the refresh still answered a pair")
	}
	// The refresh came first: the revocation ends what it answered.
	var pair Session
	refreshed.JSON(t, &pair)
	expect(t, e.refresh(pair.RefreshToken), http.StatusUnauthorized, "invalid_refresh_token")
	if rv.endsAccess {
		u, err := userBy(t.Context(), e.svc.db, "id", s[0].User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if iat := issuedAt(t, pair.AccessToken); !iat.Before(u.tokensNotBefore) {
			t.Errorf("the refreshed access token was issued at %v, not before the revocation's "+
				"tokens_not_before %v: it still works", iat, u.tokensNotBefore)
		}
	}
}

// issuedAt is an access token's iat claim (the token is not verified).
func issuedAt(t *testing.T, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	var claims struct {
		IssuedAt int64 `json:"iat"`
	}
	if err := json.Unmarshal(unb64(t, parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	return time.Unix(claims.IssuedAt, 0).UTC()
}
