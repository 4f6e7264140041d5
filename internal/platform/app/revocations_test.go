package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/web"
)

// A service reports ready only once its revocation feed has read the
// revocations already published: from its first ready moment, a revoked
// token is refused. Many revocations of other users come first, so that the
// feed has reading to do after the database and the bus answer.
func TestServiceIsReadyOnlyWithTheRevocationsRead(t *testing.T) {
	natsURL := apptest.NATS(t)
	iss := authtest.NewIssuer(t)
	token := iss.Token("user-7", "customer")
	b, err := bus.Connect(t.Context(), natsURL, "identity", bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.EnsureStream(t.Context(), bus.StreamConfig{Name: app.IdentityStream,
		Subjects: []string{"identity.>"}}); err != nil {
		t.Fatal(err)
	}
	revoke := func(userID string, notBefore time.Time) {
		env, err := event.New(event.UserTokensRevoked, event.IdentitySource,
			event.TokensRevoked{UserID: userID, NotBefore: notBefore, Reason: "logout"})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.PublishEvent(t.Context(), env); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2000 {
		revoke(fmt.Sprintf("other-%d", i), time.Now())
	}
	revoke("user-7", time.Now().Add(2*time.Second))

	probe := app.Unit{Name: "probe", Build: func(context.Context, app.Deps) (*app.Service, error) {
		r := web.NewRouter()
		r.HandleFunc("GET /api/v1/probe", auth.RequireUser(
			func(w http.ResponseWriter, _ *http.Request) error { return web.NoContent(w) }))
		return &app.Service{Public: r}, nil
	}}
	base := app.Base{DatabaseURL: sqldbtest.SQLiteURL(t), NATSURL: natsURL,
		ServiceToken: auth.NewServiceSecret(), JWKSURL: iss.JWKSURL()}
	srv := apptest.Serve(t, probe, base, apptest.Listen(t)) // returns once ready

	res := apptest.Client{T: t}.Do("GET", srv.URL+"/api/v1/probe", nil,
		"Authorization", "Bearer "+token)
	if res.Status != http.StatusUnauthorized {
		t.Errorf("the revoked token got %d at the first ready moment, want 401", res.Status)
	}
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	apptest.Client{T: t}.Do("GET", srv.URL+"/readyz", nil).JSON(t, &ready)
	if ready.Checks["revocations"] != "ok" {
		t.Errorf("readiness checks = %v, want revocations ok", ready.Checks)
	}
}
