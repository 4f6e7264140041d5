package identity

import (
	"context"
	"crypto/rand"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/crypto/argon2"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/web"
)

// Spellings of one address that only Unicode normalization tells apart.
const (
	joseNFC = "jos\u00e9@example.com"  // é precomposed
	joseNFD = "jose\u0301@example.com" // e and a combining acute accent
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Ada@Example.COM ", "ada@example.com"},
		{joseNFD, joseNFC},
		{"JOS\u00c9@example.com", joseNFC},
		{"\uff41da@example.com", "ada@example.com"},                                            // fullwidth a
		{"\uff21\uff24\uff21\uff20\uff45xample\uff0ecom", "ada@example.com"},                   // fullwidth ADA＠, ．
		{"stra\u00dfe@example.de", "strasse@example.de"},                                       // ß folds to ss
		{"\u3000ada@example.com\u3000", "ada@example.com"},                                     // ideographic spaces
		{"\ufb01@example.com", "fi@example.com"},                                               // the ﬁ ligature
		{"\u210cal@example.com", "hal@example.com"},                                            // ℌ, NFKC gives H
		{"\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3@example.gr", "οδυσσευσ@example.gr"}, // final sigma folds
	}
	for _, tt := range tests {
		if got := NormalizeEmail(tt.in); got != tt.want {
			t.Errorf("NormalizeEmail(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}

// FuzzNormalizeEmail: the normal form is a fixed point, so an email stored
// normalized is found by the same normalization of any spelling of it.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{joseNFD, "\uff41da@example.com", "\u0130stanbul@x.com",
		"\u1e9e@x.de", "\u0345\u0399", "\xff@x.com", "\ufdfa@x.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := NormalizeEmail(s)
		if twice := NormalizeEmail(once); twice != once {
			t.Errorf("NormalizeEmail(%+q) = %+q, whose form is %+q", s, once, twice)
		}
	})
}

// TestEmailsComparedNormalized: registering, login, the admin's filter and
// create-admin all find an account by any spelling of its email, and every
// answer carries the normal form.
func TestEmailsComparedNormalized(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e, admin := startWithAdmin(t, dbURL)
		jose := e.register(joseNFD, goodPassword)
		if jose.User.Email != joseNFC {
			t.Errorf("registered as %+q, want the normal form %+q", jose.User.Email, joseNFC)
		}
		ada := e.register("ada@example.com", goodPassword)
		for _, taken := range []string{joseNFC, "JOSE\u0301@example.com", "\uff41da@example.com",
			"\uff21\uff24\uff21\uff20\uff45xample\uff0ecom"} {
			r := e.do("POST", "/api/v1/auth/register", "", map[string]any{
				"email": taken, "password": goodPassword, "name": "Imposter"})
			expect(t, r, http.StatusConflict, "email_taken")
		}
		for email, want := range map[string]Session{joseNFC: jose, "\uff41da@example.com": ada} {
			r := e.login(email, goodPassword)
			expect(t, r, http.StatusOK, "")
			var s Session
			r.JSON(t, &s)
			if s.User.ID != want.User.ID || s.User.Email != want.User.Email {
				t.Errorf("login as %q found %s %q, want %s %q", email, s.User.ID, s.User.Email,
					want.User.ID, want.User.Email)
			}
			var page web.List[User]
			r = e.do("GET", "/api/v1/admin/users?email="+url.QueryEscape(email), admin.AccessToken, nil)
			expect(t, r, http.StatusOK, "")
			r.JSON(t, &page)
			if len(page.Items) != 1 || page.Items[0].ID != want.User.ID {
				t.Errorf("admin filter %q: %+v, want %s", email, page.Items, want.User.ID)
			}
		}
		// An email longer than any account's is refused before it is
		// normalized, which can make it 18 times longer.
		long := strings.Repeat("\ufdfa", 400) + "@example.com" // 1212 bytes
		expect(t, e.login(long, goodPassword), http.StatusUnprocessableEntity, "validation_failed")

		// create-admin promotes the account, not a new one beside it.
		changed, err := CreateAdmin(context.Background(), dbURL, "\uff41da@example.com", goodPassword,
			e.logs.Logger())
		if err != nil || !changed {
			t.Fatalf("create-admin with a fullwidth spelling: %v, %v", changed, err)
		}
		if u := e.userByEmail("ada@example.com"); u.ID != ada.User.ID || !u.IsAdmin() {
			t.Errorf("after create-admin: %+v, want %s an admin", u, ada.User.ID)
		}
	})
}

// TestStoredEmailsNormalizedAtStart: accounts stored before the normal form
// are brought into it when the service starts; of two whose emails have one
// normal form, the one already in it, or else the oldest, takes it, and the
// other keeps its row and stored email.
func TestStoredEmailsNormalizedAtStart(t *testing.T) {
	firstMigration := fstest.MapFS{}
	b, err := fs.ReadFile(Schema.FS, "00001_identity.sql")
	if err != nil {
		t.Fatal(err)
	}
	firstMigration["00001_identity.sql"] = &fstest.MapFile{Data: b}
	before := sqldb.Schema{Name: Schema.Name, FS: firstMigration}

	sqldbtest.RunURL(t, []sqldb.Schema{outbox.Schema, inbox.Schema, before}, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// (RunURL's SQLite database is empty.)
		if err := db.Migrate(ctx, outbox.Schema, inbox.Schema, before); err != nil {
			t.Fatal(err)
		}
		// As the service stored them before: trimmed and lower-cased only.
		legacy := []struct{ id, email, want string }{
			{"u1", joseNFD, joseNFD},                          // oldest, but the NFC spelling is in the form
			{"u2", joseNFC, joseNFC},                          // already in the form
			{"u3", "\uff41da@example.com", "ada@example.com"}, // alone: takes the form
			{"u4", "\uff42ob@example.com", "bob@example.com"}, // older of two: takes it
			{"u5", "b\uff4fb@example.com", "b\uff4fb@example.com"},
			{"u6", "stra\u00dfe@example.de", "strasse@example.de"},
			{"u7", "plain@example.com", "plain@example.com"},
		}
		hash := weakHash(t, goodPassword)
		created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, u := range legacy {
			at := created.Add(time.Duration(i) * time.Hour)
			_, err := db.ExecContext(ctx, `INSERT INTO users (id, email, name, roles, password_hash,
				created_at, updated_at) VALUES ($1, $2, 'Old', 'customer', $3, $4, $4)`,
				u.id, u.email, hash, at)
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx, Schema); err != nil {
			t.Fatal(err)
		}
		e := start(t, dbURL, nil)
		for _, u := range legacy {
			got, err := userBy(ctx, db, "id", u.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != u.want {
				t.Errorf("%s: email %+q after the start, want %+q", u.id, got.Email, u.want)
			}
		}
		var queued int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM email_normalization").Scan(&queued); err != nil {
			t.Fatal(err)
		}
		if queued != 0 {
			t.Errorf("%d accounts still queued", queued)
		}
		for email, id := range map[string]string{joseNFD: "u2", "\uff42ob@example.com": "u4",
			"ADA@example.com": "u3", "strasse@example.de": "u6"} {
			var s Session
			r := e.login(email, goodPassword)
			expect(t, r, http.StatusOK, "")
			if r.JSON(t, &s); s.User.ID != id {
				t.Errorf("login as %q signed in to %s, want %s", email, s.User.ID, id)
			}
		}
		// The changed ones are announced to the services that keep contacts.
		var announced int
		err = db.QueryRowContext(ctx, "SELECT count(*) FROM outbox WHERE subject = $1",
			"identity.user.updated").Scan(&announced)
		if err != nil {
			t.Fatal(err)
		}
		if announced != 3 {
			t.Errorf("%d profile updates announced, want 3 (u3, u4, u6)", announced)
		}
	})
}

// weakHash is a password hash as cheap as the tests' hasher makes.
func weakHash(t *testing.T, password string) string {
	t.Helper()
	salt := make([]byte, saltLen)
	rand.Read(salt)
	p := weakArgon2
	return encodePHC(p, salt, argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen))
}
