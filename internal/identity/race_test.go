package identity

import (
	"context"
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"emporium/internal/platform/sqldb"
)

// The tests in this file race two requests that change one user (or the set
// of admins) and check that neither undoes the other.
//
// On PostgreSQL, interleave makes the dangerous order happen every time: the
// first request stops inside its transaction, after its writes to users and
// before its write to the outbox, and the second one runs as far as it can
// before the first commits. SQLite has a single writer, so there the two just
// run at once.

// interleave runs first and second concurrently against the database at
// dbURL and returns when both have, holding first at its outbox write (see
// interleaveAt).
func interleave(t *testing.T, dbURL string, first, second func()) {
	t.Helper()
	interleaveAt(t, dbURL, atOutbox, first, second)
}

// A hold is where interleaveAt stops the first request: the table it holds
// in SHARE mode, which blocks every write to it, and the statement the first
// request then waits at.
type hold struct{ table, statement string }

var (
	atOutbox   = hold{"outbox", "INSERT INTO outbox"}            // after a use case's writes
	atRotation = hold{"refresh_tokens", "UPDATE refresh_tokens"} // a refresh, after its reads
)

// interleaveAt runs first and second concurrently against the database at
// dbURL and returns when both have. On PostgreSQL the test holds h.table
// (LOCK TABLE … IN SHARE MODE) so that first waits at h.statement, then
// starts second and lets first go once second has returned or waits for a
// lock itself. It reports whether second returned before first was let go:
// then whatever second wrote committed while first was stopped.
func interleaveAt(t *testing.T, dbURL string, h hold, first, second func()) (secondFirst bool) {
	t.Helper()
	if !strings.HasPrefix(dbURL, "postgres") {
		var wg sync.WaitGroup
		wg.Go(first)
		wg.Go(second)
		wg.Wait()
		return false
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	held, err := db.Writer().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Rollback() }) // lets the requests go if the test fails
	if _, err := held.ExecContext(ctx, "LOCK TABLE "+h.table+" IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	at := `query LIKE '%` + h.statement + `%'`
	firstDone, secondDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(firstDone)
		first()
	}()
	eventually(t, 10*time.Second, "the first request waits at "+h.statement, func() bool {
		return lockWaiters(t, db, at) == 1
	})
	go func() {
		defer close(secondDone)
		second()
	}()
	eventually(t, 10*time.Second, "the second request returns or waits for a lock", func() bool {
		select {
		case <-secondDone:
			secondFirst = true
			return true
		default:
		}
		return lockWaiters(t, db, `(`+at+` OR query LIKE '%users%'
			OR query LIKE '%UPDATE refresh_families%' OR query LIKE '%pg_advisory_xact_lock%')`) == 2
	})
	if err := held.Commit(); err != nil {
		t.Fatal(err)
	}
	<-firstDone
	<-secondDone
	return secondFirst
}

// lockWaiters counts the sessions of the test's database that wait for a
// lock, running a statement that matches where.
func lockWaiters(t *testing.T, db *sqldb.DB, where string) int {
	t.Helper()
	var n int
	err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND `+where).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// userByEmail reads a user as the admin route shows it.
func (e *env) userByEmail(email string) *User {
	e.t.Helper()
	users, err := e.svc.ListUsers(context.Background(), email, "", 1)
	if err != nil || len(users) != 1 {
		e.t.Fatalf("list users %s: %v, %v", email, users, err)
	}
	return users[0]
}

// admins counts the admins.
func (e *env) admins() int {
	e.t.Helper()
	users, err := e.svc.ListUsers(context.Background(), "", "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, u := range users {
		if u.IsAdmin() {
			n++
		}
	}
	return n
}

// promote makes the user with session s an admin and returns the session it
// signs in to afterwards, carrying the role.
func (e *env) promote(admin, s Session, password string) Session {
	e.t.Helper()
	expect(e.t, e.do("PUT", "/api/v1/admin/users/"+s.User.ID+"/roles", admin.AccessToken,
		`{"roles":["admin","customer"]}`), http.StatusOK, "")
	var fresh Session
	r := e.login(s.User.Email, password)
	expect(e.t, r, http.StatusOK, "")
	r.JSON(e.t, &fresh)
	return fresh
}

func TestChangePasswordRacingProfileUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		s := e.register("rae@example.com", goodPassword)
		const newPassword = "a brand new secret"
		var changed, patched response
		interleave(t, dbURL, func() {
			changed = e.do("POST", "/api/v1/users/me/password", s.AccessToken,
				map[string]string{"current_password": goodPassword, "new_password": newPassword})
		}, func() {
			patched = e.do("PATCH", "/api/v1/users/me", s.AccessToken, `{"name":"Rae Patched"}`)
		})
		expect(t, changed, http.StatusNoContent, "")
		expect(t, patched, http.StatusOK, "")
		// Both changes stand: the password change was not written over with
		// the old hash, nor the name with the old name.
		expect(t, e.login("rae@example.com", goodPassword), http.StatusUnauthorized,
			"invalid_credentials")
		expect(t, e.login("rae@example.com", newPassword), http.StatusOK, "")
		if u := e.userByEmail("rae@example.com"); u.Name != "Rae Patched" {
			t.Errorf("name = %q, want the patched one", u.Name)
		}
	})
}

func TestRoleRemovalRacingProfileUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e, root := startWithAdmin(t, dbURL)
		cam := e.promote(root, e.register("cam@example.com", goodPassword), goodPassword)
		var demoted, patched response
		interleave(t, dbURL, func() {
			demoted = e.do("PUT", "/api/v1/admin/users/"+cam.User.ID+"/roles", root.AccessToken,
				`{"roles":["customer"]}`)
		}, func() {
			patched = e.do("PATCH", "/api/v1/users/me", cam.AccessToken, `{"name":"Cam Patched"}`)
		})
		expect(t, demoted, http.StatusOK, "")
		expect(t, patched, http.StatusOK, "")
		u := e.userByEmail("cam@example.com")
		if !slices.Equal(u.Roles, []string{RoleCustomer}) || u.Name != "Cam Patched" {
			t.Errorf("after both: roles %q, name %q; want [customer] and the patched name",
				u.Roles, u.Name)
		}
	})
}

func TestRoleRemovalRacingLoginRehash(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e, root := startWithAdmin(t, dbURL)
		cam := e.promote(root, e.register("cam@example.com", goodPassword), goodPassword)
		// A hash made with weaker parameters than the service's: the next
		// login replaces it.
		weak := Argon2Params{MemoryKiB: 32, Time: 1, Threads: 1}
		salt := make([]byte, saltLen)
		rand.Read(salt)
		old := encodePHC(weak, salt,
			argon2.IDKey([]byte(goodPassword), salt, weak.Time, weak.MemoryKiB, weak.Threads, keyLen))
		setPasswordHash(t, e.svc.db, cam.User.ID, old)

		var demoted, login response
		interleave(t, dbURL, func() {
			demoted = e.do("PUT", "/api/v1/admin/users/"+cam.User.ID+"/roles", root.AccessToken,
				`{"roles":["customer"]}`)
		}, func() {
			login = e.login("cam@example.com", goodPassword)
		})
		expect(t, demoted, http.StatusOK, "")
		expect(t, login, http.StatusOK, "")
		var s Session
		login.JSON(t, &s)
		// Where the role change surely came first, the session carries its
		// outcome (on SQLite the login may have come first).
		if strings.HasPrefix(dbURL, "postgres") && !slices.Equal(s.User.Roles, []string{RoleCustomer}) {
			t.Errorf("the login answered roles %q, want [customer]", s.User.Roles)
		}
		u, err := userBy(context.Background(), e.svc.db, "id", cam.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u.Roles, []string{RoleCustomer}) {
			t.Errorf("roles after the rehash = %q, want [customer]", u.Roles)
		}
		if u.passwordHash == old {
			t.Error("the login did not upgrade the hash")
		}
	})
}

// setPasswordHash stores a password hash directly, as an older version of
// the service would have.
func setPasswordHash(t *testing.T, db *sqldb.DB, userID, hash string) {
	t.Helper()
	_, err := db.ExecContext(context.Background(),
		"UPDATE users SET password_hash = $1 WHERE id = $2", hash, userID)
	if err != nil {
		t.Fatal(err)
	}
}

func TestAdminsDemotingEachOtherKeepOne(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e, root := startWithAdmin(t, dbURL)
		cam := e.promote(root, e.register("cam@example.com", goodPassword), goodPassword)
		var byRoot, byCam response
		interleave(t, dbURL, func() {
			byRoot = e.do("PUT", "/api/v1/admin/users/"+cam.User.ID+"/roles", root.AccessToken,
				`{"roles":["customer"]}`)
		}, func() {
			byCam = e.do("PUT", "/api/v1/admin/users/"+root.User.ID+"/roles", cam.AccessToken,
				`{"roles":["customer"]}`)
		})
		got := []int{byRoot.Status, byCam.Status}
		slices.Sort(got)
		if !slices.Equal(got, []int{http.StatusOK, http.StatusConflict}) {
			t.Errorf("statuses %v, want one 200 and one 409 last_admin", got)
		}
		for _, r := range []response{byRoot, byCam} {
			if r.Status == http.StatusConflict {
				expect(t, r, http.StatusConflict, "last_admin")
			}
		}
		if n := e.admins(); n != 1 {
			t.Errorf("%d admins, want 1", n)
		}
	})
}
