package identity

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/web"
)

const adminPassword = "the admin's long passphrase"

// startWithAdmin runs the service with a configured first admin and returns
// the admin's session.
func startWithAdmin(t *testing.T, dbURL string) (*env, Session) {
	t.Helper()
	e := start(t, dbURL, func(c *Config) { c.AdminEmail, c.AdminPassword = "Root@Example.com", adminPassword })
	var s Session
	r := e.login("root@example.com", adminPassword)
	expect(t, r, http.StatusOK, "")
	r.JSON(t, &s)
	if !slices.Equal(s.User.Roles, []string{"admin", "customer"}) {
		t.Fatalf("configured admin has roles %q", s.User.Roles)
	}
	return e, s
}

func TestAdminListUsers(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e, admin := startWithAdmin(t, dbURL)
		customer := e.register("cus@example.com", goodPassword)
		for i := range 5 {
			e.register(fmt.Sprintf("user%d@example.com", i), goodPassword)
		}
		expect(t, e.do("GET", "/api/v1/admin/users", "", nil), http.StatusUnauthorized, "unauthenticated")
		expect(t, e.do("GET", "/api/v1/admin/users", customer.AccessToken, nil), http.StatusForbidden, "forbidden")

		// Pages of 3 visit all 7 users once, in id order.
		var seen []string
		cursor := ""
		for range 10 {
			r := e.do("GET", "/api/v1/admin/users?limit=3&cursor="+cursor, admin.AccessToken, nil)
			expect(t, r, http.StatusOK, "")
			var page web.List[User]
			r.JSON(t, &page)
			for _, u := range page.Items {
				seen = append(seen, u.ID)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != 7 || !slices.IsSorted(seen) || len(slices.Compact(slices.Clone(seen))) != 7 {
			t.Errorf("pages visited %d users %q, want all 7 once in order", len(seen), seen)
		}
		var one web.List[User]
		e.do("GET", "/api/v1/admin/users?email=%20CUS@Example.com%20", admin.AccessToken, nil).JSON(t, &one)
		if len(one.Items) != 1 || one.Items[0].Email != "cus@example.com" || one.NextCursor != "" {
			t.Errorf("email filter: %+v", one)
		}
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=bogus!"} {
			r := e.do("GET", "/api/v1/admin/users?"+q, admin.AccessToken, nil)
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
		}
	})
}

func TestAdminSetRoles(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e, admin := startWithAdmin(t, dbURL)
		c := e.register("cam@example.com", goodPassword)
		put := func(token, id, body string) response {
			return e.do("PUT", "/api/v1/admin/users/"+id+"/roles", token, body)
		}
		expect(t, put(c.AccessToken, c.User.ID, `{"roles":["admin"]}`), http.StatusForbidden, "forbidden")
		expect(t, put(admin.AccessToken, "no-such-user", `{"roles":["customer"]}`), http.StatusNotFound, "not_found")
		for _, body := range []string{`{"roles":[]}`, `{"roles":["owner"]}`, `{"roles":"admin"}`, `{}`} {
			expect(t, put(admin.AccessToken, c.User.ID, body), http.StatusUnprocessableEntity, "validation_failed")
		}
		// The last admin keeps the role.
		expect(t, put(admin.AccessToken, admin.User.ID, `{"roles":["customer"]}`), http.StatusConflict, "last_admin")

		r := put(admin.AccessToken, c.User.ID, `{"roles":["customer","admin","admin"]}`)
		expect(t, r, http.StatusOK, "")
		var u User
		r.JSON(t, &u)
		if !slices.Equal(u.Roles, []string{"admin", "customer"}) {
			t.Errorf("roles = %q", u.Roles)
		}
		// The old token (customer only) stops working; a refresh carries the new roles.
		eventually(t, 5*time.Second, "the token with the old roles is refused", func() bool {
			return e.do("GET", "/api/v1/users/me", c.AccessToken, nil).Status == http.StatusUnauthorized
		})
		var fresh Session
		e.refresh(c.RefreshToken).JSON(t, &fresh)
		expect(t, e.do("GET", "/api/v1/admin/users", fresh.AccessToken, nil), http.StatusOK, "")
		// Now that there are two admins, the first may step down.
		expect(t, put(fresh.AccessToken, admin.User.ID, `{"roles":["customer"]}`), http.StatusOK, "")
		if !strings.Contains(e.logs.String(), `"event":"roles.changed"`) {
			t.Error("role change was not audited")
		}
	})
}

func TestEnsureAdmin(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		e := start(t, dbURL, nil)
		e.register("promote@example.com", goodPassword)
		changed, err := CreateAdmin(ctx, dbURL, " Promote@example.com", "ignored, the account exists", e.logs.Logger())
		if err != nil || !changed {
			t.Fatalf("promote: %v, %v", changed, err)
		}
		var s Session
		e.login("promote@example.com", goodPassword).JSON(t, &s) // the password is untouched
		if !slices.Contains(s.User.Roles, auth.RoleAdmin) {
			t.Errorf("roles after promotion %q", s.User.Roles)
		}
		if changed, err := CreateAdmin(ctx, dbURL, "promote@example.com", adminPassword, e.logs.Logger()); err != nil || changed {
			t.Errorf("second run: %v, %v; want no change", changed, err)
		}
		if _, err := CreateAdmin(ctx, dbURL, "new@example.com", "short", e.logs.Logger()); err == nil {
			t.Error("a weak admin password was accepted")
		}

		var out strings.Builder
		code := AdminCommand(ctx, []string{"create-admin", "fresh@example.com"}, dbURL, "",
			strings.NewReader(adminPassword+"\n"), &out)
		if code != 0 || !strings.Contains(out.String(), "fresh@example.com is an admin") {
			t.Errorf("command: exit %d, output %q", code, out.String())
		}
		expect(t, e.login("fresh@example.com", adminPassword), http.StatusOK, "")
		if code := AdminCommand(ctx, []string{"nonsense"}, dbURL, "", strings.NewReader(""), &out); code != 2 {
			t.Errorf("bad usage exit %d, want 2", code)
		}
	})
}
