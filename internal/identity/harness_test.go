package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/openapi/openapitest"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// env is the identity service running as it does in production (see
// apptest): real listeners, middleware, JWKS over HTTP, outbox relay, NATS
// and the revocation feed.
type env struct {
	t       testing.TB
	svc     *Service
	url     string // public base URL
	natsURL string
	dbURL   string
	cfg     Config
	client  apptest.Client // validates every response against the OpenAPI document
	logs    *apptest.LogWriter
	stop    func() // stops the service and waits; safe to call twice
}

type response = apptest.Response

var (
	expect     = apptest.Expect
	eventually = apptest.Eventually
	newNATS    = apptest.NATS
)

// eachDB runs fn as a subtest on SQLite, and on PostgreSQL when configured.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	sqldbtest.RunURL(t, []sqldb.Schema{outbox.Schema, inbox.Schema, Schema}, fn)
}

func testConfig() Config {
	kek := make([]byte, 32)
	rand.Read(kek)
	return Config{
		AccessTokenTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour, RefreshIdleTTL: 7 * 24 * time.Hour,
		KeyEncryptionKey: base64.StdEncoding.EncodeToString(kek), KeyRotation: 30 * 24 * time.Hour,
		LoginFailuresPerAccount: 10, LoginFailuresPerAddress: 100, LoginFailureWindow: 15 * time.Minute,
		RegistrationsPerAddress: 300, RegistrationWindow: time.Hour,
		TrustedProxies: "127.0.0.0/8,::1/128", weakHash: true,
		Argon2MemoryKiB: DefaultArgon2.MemoryKiB, Argon2Iterations: DefaultArgon2.Time,
	}
}

var identityDoc = sync.OnceValues(func() (*openapitest.Document, error) { return openapitest.Load(OpenAPI) })

// start runs the service on dbURL and a new embedded NATS server with the
// test configuration, edited by edit.
func start(t testing.TB, dbURL string, edit func(*Config)) *env {
	t.Helper()
	return startOn(t, dbURL, newNATS(t), edit)
}

// startOn runs the service on dbURL and the NATS server at natsURL.
func startOn(t testing.TB, dbURL, natsURL string, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	e := &env{t: t, natsURL: natsURL, dbURL: dbURL, cfg: cfg}
	ln := apptest.Listen(t)
	e.url, _ = apptest.URLs(ln)
	base := app.Base{DatabaseURL: dbURL, NATSURL: natsURL, ServiceToken: auth.NewServiceSecret(),
		JWKSURL: e.url + "/.well-known/jwks.json"}
	unit := app.Unit{Name: "identity", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(ctx, d.DB, cfg, d.Logger)
			if err != nil {
				return nil, err
			}
			e.svc = svc
			return svc.appService(), nil
		}}
	srv := apptest.Serve(t, unit, base, ln)
	e.logs, e.stop = srv.Logs, srv.Stop
	doc, err := identityDoc()
	if err != nil {
		t.Fatal(err)
	}
	e.client = apptest.Client{T: t, HTTP: &http.Client{Transport: openapitest.ValidatingTransport(t, doc,
		http.DefaultTransport, "GET /readyz", "GET /livez")}}
	return e
}

// do sends a request with an optional bearer token and a body (see
// apptest.Client.Do) and headers as name, value pairs.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.client.Do(method, e.url+path, body, headers...)
}

// register creates an account and returns its session.
func (e *env) register(email, password string) Session {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/register", "", map[string]any{
		"email": email, "password": password, "name": "Test User"})
	expect(e.t, r, http.StatusCreated, "")
	var s Session
	r.JSON(e.t, &s)
	return s
}

func (e *env) login(email, password string, headers ...string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password}, headers...)
}

func (e *env) refresh(token string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": token})
}

// sqliteURL is a fresh SQLite database, for tests whose subject does not
// depend on the dialect.
func sqliteURL(t testing.TB) string { return sqldbtest.SQLiteURL(t) }
