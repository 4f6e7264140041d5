package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/sqldb"
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

		// An existing account is promoted only with its own password: whoever
		// registered the email first does not become an admin.
		_, err := CreateAdmin(ctx, dbURL, "promote@example.com", adminPassword, e.logs.Logger())
		if !errors.Is(err, ErrAccountExists) {
			t.Errorf("promote with another password: error %v, want ErrAccountExists", err)
		}
		var out strings.Builder
		code := AdminCommand(ctx, []string{"create-admin", "Promote@example.com"}, dbURL, adminPassword,
			strings.NewReader(""), &out)
		if code != 1 || !strings.Contains(out.String(), "promote@example.com already has an account, "+
			"with another password") {
			t.Errorf("command with another password: exit %d, output %q", code, out.String())
		}
		var s Session
		e.login("promote@example.com", goodPassword).JSON(t, &s)
		if !slices.Equal(s.User.Roles, []string{auth.RoleCustomer}) {
			t.Fatalf("roles after refused promotions %q, want [customer]", s.User.Roles)
		}
		expect(t, e.login("promote@example.com", adminPassword), http.StatusUnauthorized,
			"invalid_credentials")

		changed, err := CreateAdmin(ctx, dbURL, " Promote@example.com", goodPassword, e.logs.Logger())
		if err != nil || !changed {
			t.Fatalf("promote: %v, %v", changed, err)
		}
		e.login("promote@example.com", goodPassword).JSON(t, &s) // the password is untouched
		if !slices.Contains(s.User.Roles, auth.RoleAdmin) {
			t.Errorf("roles after promotion %q", s.User.Roles)
		}
		changed, err = CreateAdmin(ctx, dbURL, "promote@example.com", goodPassword, e.logs.Logger())
		if err != nil || changed {
			t.Errorf("second run: %v, %v; want no change", changed, err)
		}
		if _, err := CreateAdmin(ctx, dbURL, "new@example.com", "short", e.logs.Logger()); err == nil {
			t.Error("a weak admin password was accepted")
		}

		out.Reset()
		code = AdminCommand(ctx, []string{"create-admin", "fresh@example.com"}, dbURL, "",
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

// TestConfiguredAdminOnlyWhileThereIsNone: the configured first admin is
// made once; after that only admins decide, across restarts.
func TestConfiguredAdminOnlyWhileThereIsNone(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e, root := startWithAdmin(t, dbURL)
		cam := e.promote(root, e.register("cam@example.com", goodPassword), goodPassword)
		expect(t, e.do("PUT", "/api/v1/admin/users/"+root.User.ID+"/roles", cam.AccessToken,
			`{"roles":["customer"]}`), http.StatusOK, "")
		e.stop()

		// The same configuration at the next start does not undo that, and a
		// new email in it creates nobody.
		kek := e.cfg.KeyEncryptionKey
		for _, email := range []string{"root@example.com", "other@example.com"} {
			e = start(t, dbURL, func(c *Config) {
				c.AdminEmail, c.AdminPassword, c.KeyEncryptionKey = email, adminPassword, kek
			})
			var s Session
			e.login("root@example.com", adminPassword).JSON(t, &s)
			if !slices.Equal(s.User.Roles, []string{auth.RoleCustomer}) {
				t.Errorf("restart configured with %s: root has roles %q, want [customer]",
					email, s.User.Roles)
			}
			expect(t, e.login("other@example.com", adminPassword), http.StatusUnauthorized,
				"invalid_credentials")
			e.stop()
		}
	})
}

// TestConfiguredAdminRefusesAnotherPassword: an account registered before
// the first start with the configured email, but not the configured
// password, is not promoted, and the service does not start.
func TestConfiguredAdminRefusesAnotherPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		e := start(t, dbURL, nil)
		e.register("ops@shop.test", goodPassword) // the attacker's password
		e.stop()

		db, err := sqldb.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		cfg := e.cfg // its signing key is in the database
		cfg.AdminEmail, cfg.AdminPassword = "ops@shop.test", adminPassword
		_, err = New(ctx, db, cfg, e.logs.Logger())
		if !errors.Is(err, ErrAccountExists) || !strings.Contains(err.Error(), "EMPORIUM_ADMIN_EMAIL") {
			t.Errorf("New = %v, want ErrAccountExists naming EMPORIUM_ADMIN_EMAIL", err)
		}
		u, err := userBy(ctx, db, "email", "ops@shop.test")
		if err != nil || u.IsAdmin() {
			t.Errorf("the account after the refused start: %+v, %v; want no admin", u, err)
		}

		// With the account's own password it is promoted.
		cfg.AdminPassword = goodPassword
		if _, err := New(ctx, db, cfg, e.logs.Logger()); err != nil {
			t.Fatal(err)
		}
		if u, err := userBy(ctx, db, "email", "ops@shop.test"); err != nil || !u.IsAdmin() {
			t.Errorf("the account after a start with its password: %+v, %v; want an admin", u, err)
		}
	})
}
