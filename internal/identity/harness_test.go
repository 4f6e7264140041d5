package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/openapi/openapitest"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// env is the identity service running as it does in production, through
// app.ServeService: real listeners, middleware, JWKS over HTTP, outbox relay,
// an embedded NATS server and the revocation feed.
type env struct {
	t       testing.TB
	svc     *Service
	url     string // public base URL
	natsURL string
	client  *http.Client
	dbURL   string
	logs    *testWriter
	stop    func() // stops the service and waits; safe to call twice
	cfg     Config
}

// eachDB runs fn as a subtest on SQLite, and on PostgreSQL when configured.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, sqldbtest.SQLiteURL(t)) })
	if sqldbtest.PostgresURL() != "" {
		t.Run("postgres", func(t *testing.T) {
			fn(t, sqldbtest.PostgresDatabase(t, outbox.Schema, inbox.Schema, Schema))
		})
	}
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

// newNATS starts an embedded NATS server that listens on loopback.
func newNATS(t testing.TB) string {
	t.Helper()
	nats, err := bus.StartEmbedded(bus.EmbeddedConfig{Dir: filepath.Join(t.TempDir(), "nats"), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nats.Shutdown)
	return nats.ClientURL()
}

// startOn runs the service on dbURL and the NATS server at natsURL.
func startOn(t testing.TB, dbURL, natsURL string, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	e := &env{t: t, natsURL: natsURL, dbURL: dbURL, logs: &testWriter{t: t}, cfg: cfg}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	internal, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + pub.Addr().String()
	base := app.Base{DatabaseURL: dbURL, NATSURL: e.natsURL, ServiceToken: auth.NewServiceSecret(),
		JWKSURL:       e.url + "/.well-known/jwks.json",
		Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	built := make(chan *Service, 1)
	unit := app.Unit{Name: "identity", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(ctx, d.DB, cfg, d.Logger)
			if err != nil {
				return nil, err
			}
			built <- svc
			return svc.appService(), nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.ServeService(ctx, unit, base, app.Listeners{Public: pub, Internal: internal}, e.logs.logger())
	}()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("service stopped with %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("service did not stop")
			}
		})
	}
	t.Cleanup(e.stop)
	select {
	case e.svc = <-built:
	case err := <-done:
		once.Do(func() {})
		t.Fatalf("service did not start: %v", err)
	}
	doc, err := identityDoc()
	if err != nil {
		t.Fatal(err)
	}
	e.client = &http.Client{Transport: openapitest.ValidatingTransport(t, doc, http.DefaultTransport,
		"GET /readyz", "GET /livez")}
	eventually(t, 10*time.Second, "the service is ready", func() bool {
		res, err := http.Get(e.url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return e
}

// response is an answer the test got.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test when it cannot.
func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem returns the body's code and the fields named in its errors.
func (r response) problem(t testing.TB) (code string, fields []string) {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	r.json(t, &p)
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	return p.Code, fields
}

// do sends a request with an optional bearer token and JSON body (a string
// is sent as it is, anything else is marshalled).
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// expect checks a response's status and, for problems, its code.
func expect(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code != "" {
		if got, _ := r.problem(t); got != code {
			t.Fatalf("code %q, want %q: %s", got, code, r.body)
		}
	}
}

// register creates an account and returns its session.
func (e *env) register(email, password string) Session {
	e.t.Helper()
	r := e.do("POST", "/api/v1/auth/register", "", map[string]any{
		"email": email, "password": password, "name": "Test User"})
	expect(e.t, r, http.StatusCreated, "")
	var s Session
	r.json(e.t, &s)
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

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// testWriter sends the service's logs to the test's log and keeps them, for
// the tests that read them.
type testWriter struct {
	mu  sync.Mutex
	t   testing.TB
	buf bytes.Buffer
}

func (w *testWriter) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.t.Logf("%s", bytes.TrimSpace(p))
	return len(p), nil
}

// String returns everything logged so far.
func (w *testWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// sqliteURL is a fresh SQLite database, for tests whose subject does not
// depend on the dialect.
func sqliteURL(t testing.TB) string { return sqldbtest.SQLiteURL(t) }
