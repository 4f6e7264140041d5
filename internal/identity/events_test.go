package identity

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/web"
)

// registeredEvents counts identity.user.registered events for userID on the stream.
func registeredEvents(t *testing.T, natsURL, userID string) int {
	return userEvents(t, natsURL, event.UserRegistered, userID)
}

// userEvents counts the events of a type about userID on the stream.
func userEvents(t *testing.T, natsURL, typ, userID string) int {
	t.Helper()
	b, err := bus.Connect(t.Context(), natsURL, "test", bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cons, err := b.JetStream().OrderedConsumer(t.Context(), app.IdentityStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{typ}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range info.NumPending {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var env event.Envelope
		var c event.UserContact
		if err := json.Unmarshal(msg.Data(), &env); err != nil || env.Decode(&c) != nil {
			t.Fatalf("malformed event %s", msg.Data())
		}
		if c.UserID == userID {
			n++
		}
	}
	return n
}

// TestRegistrationAnnouncedOnce: the registered event reaches the bus once,
// even when the service stops and when a relay dies between publishing and
// marking the row (simulated by unmarking it).
func TestRegistrationAnnouncedOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		natsURL := newNATS(t)
		e := startOn(t, dbURL, natsURL, nil)
		s := e.register("eve@example.com", goodPassword)
		eventually(t, 10*time.Second, "the event is published", func() bool {
			return registeredEvents(t, natsURL, s.User.ID) == 1
		})
		e.stop()

		db, err := sqldb.Open(t.Context(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(t.Context(), "UPDATE outbox SET published_at = NULL"); err != nil {
			t.Fatal(err)
		}
		startOn(t, dbURL, natsURL, func(c *Config) { c.KeyEncryptionKey = e.cfg.KeyEncryptionKey })
		eventually(t, 10*time.Second, "the relay catches up", func() bool {
			var pending int
			db.QueryRowContext(t.Context(), "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&pending)
			return pending == 0
		})
		if n := registeredEvents(t, natsURL, s.User.ID); n != 1 {
			t.Errorf("the registration was announced %d times, want once", n)
		}
	})
}

// TestRevocationReachesAnotherService: after a password change, another
// service — its own process state, its own bus connection and revocation
// feed — refuses the old access token within seconds.
//
// It runs on the external NATS server when EMPORIUM_TEST_NATS_URL is set (as
// production would), and on an embedded one otherwise.
func TestRevocationReachesAnotherService(t *testing.T) {
	natsURL := os.Getenv("EMPORIUM_TEST_NATS_URL")
	if natsURL == "" {
		natsURL = newNATS(t)
	} else {
		t.Cleanup(func() { deleteStream(t, natsURL, app.IdentityStream) })
	}
	e := startOn(t, sqliteURL(t), natsURL, nil)
	probe := startProbe(t, e.url+"/.well-known/jwks.json", natsURL)
	s := e.register("rev@example.com", goodPassword)

	get := func(token string) int {
		req, _ := http.NewRequest("GET", probe+"/api/v1/probe", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get(s.AccessToken); got != http.StatusNoContent {
		t.Fatalf("the probe answered %d to a fresh token", got)
	}
	changed := time.Now()
	expect(t, e.do("POST", "/api/v1/users/me/password", s.AccessToken,
		map[string]string{"current_password": goodPassword, "new_password": "another good secret"}), http.StatusNoContent, "")
	eventually(t, 5*time.Second, "the probe refuses the old token", func() bool { return get(s.AccessToken) == http.StatusUnauthorized })
	t.Logf("revocation reached the other service in %v", time.Since(changed).Round(time.Millisecond))

	// A token issued after the change is accepted there.
	var fresh Session
	e.login("rev@example.com", "another good secret").JSON(t, &fresh)
	if got := get(fresh.AccessToken); got != http.StatusNoContent {
		t.Errorf("the probe answered %d to a token issued after the change", got)
	}

	// A service that starts after the change learns it too.
	late := startProbe(t, e.url+"/.well-known/jwks.json", natsURL)
	probe = late
	eventually(t, 5*time.Second, "the late probe refuses the old token", func() bool {
		return get(s.AccessToken) == http.StatusUnauthorized
	})
	if got := get(fresh.AccessToken); got != http.StatusNoContent {
		t.Errorf("the late probe answered %d to a token issued after the change", got)
	}
}

// TestProfileChangeAnnounced: a profile change publishes identity.user.updated
// with the new contact data; a PATCH that changes nothing publishes nothing.
func TestProfileChangeAnnounced(t *testing.T) {
	natsURL := newNATS(t)
	e := startOn(t, sqliteURL(t), natsURL, nil)
	db, err := sqldb.Open(t.Context(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := e.register("upd@example.com", goodPassword)
	expect(t, e.do("PATCH", "/api/v1/users/me", s.AccessToken, `{"phone":"+14155550100","sms_opt_in":true}`),
		http.StatusOK, "")
	expect(t, e.do("PATCH", "/api/v1/users/me", s.AccessToken, `{"sms_opt_in":true}`), http.StatusOK, "")
	eventually(t, 10*time.Second, "the outbox is relayed", func() bool {
		var pending int
		db.QueryRowContext(t.Context(), "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&pending)
		return pending == 0
	})
	if n := userEvents(t, natsURL, event.UserUpdated, s.User.ID); n != 1 {
		t.Errorf("%d update events, want 1", n)
	}
}

// deleteStream removes a stream this package's tests made on a shared server.
func deleteStream(t *testing.T, natsURL, name string) {
	b, err := bus.Connect(context.Background(), natsURL, "test-cleanup", bus.Options{})
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer b.Close()
	if err := b.JetStream().DeleteStream(context.Background(), name); err != nil {
		t.Errorf("cleanup: delete stream %s: %v", name, err)
	}
}

// startProbe runs a minimal service with one route behind the platform's
// authentication, as every service has it, and returns its public URL.
func startProbe(t *testing.T, jwksURL, natsURL string) string {
	t.Helper()
	unit := app.Unit{Name: "probe", Build: func(context.Context, app.Deps) (*app.Service, error) {
		r := web.NewRouter()
		r.HandleFunc("GET /api/v1/probe", auth.RequireUser(func(w http.ResponseWriter, r *http.Request) error {
			return web.NoContent(w)
		}))
		return &app.Service{Public: r}, nil
	}}
	base := app.Base{DatabaseURL: sqldbtest.SQLiteURL(t), NATSURL: natsURL, ServiceToken: auth.NewServiceSecret(),
		JWKSURL: jwksURL}
	return apptest.Serve(t, unit, base, apptest.Listen(t)).URL
}
