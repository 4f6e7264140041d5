package catalog

import (
	"bytes"
	"context"
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
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/openapi/openapitest"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// env is the catalog service running as in production, through
// app.ServeService: real listeners, middleware, authentication against a JWKS
// served over HTTP (authtest's issuer stands in for identity), the outbox
// relay, an embedded NATS server, and the internal listener behind the
// service credential.
type env struct {
	t        testing.TB
	svc      *Service
	url      string // public base URL
	internal string // internal base URL
	natsURL  string
	dbURL    string
	token    string // the service credential
	issuer   *authtest.Issuer
	client   *http.Client
	logs     *testWriter
	stop     func() // stops the service and waits; safe to call twice
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
	return Config{Currency: "USD", SweepInterval: 50 * time.Millisecond, CacheTTL: time.Minute, CacheEntries: 1000}
}

var catalogDoc = sync.OnceValues(func() (*openapitest.Document, error) { return openapitest.Load(OpenAPI) })

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

// start runs the service on dbURL and a new embedded NATS server.
func start(t testing.TB, dbURL string, edit func(*Config)) *env {
	t.Helper()
	return startOn(t, dbURL, newNATS(t), authtest.NewIssuer(t), edit)
}

// startOn runs the service on dbURL, the NATS server at natsURL, trusting
// tokens from iss. Several instances on one database and one NATS server
// behave as replicas.
func startOn(t testing.TB, dbURL, natsURL string, iss *authtest.Issuer, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	e := &env{t: t, natsURL: natsURL, dbURL: dbURL, issuer: iss, token: auth.NewServiceSecret(),
		logs: &testWriter{t: t}}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	internal, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url, e.internal = "http://"+pub.Addr().String(), "http://"+internal.Addr().String()
	base := app.Base{DatabaseURL: dbURL, NATSURL: natsURL, ServiceToken: e.token, JWKSURL: iss.JWKSURL(),
		Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	built := make(chan *Service, 1)
	unit := app.Unit{Name: "catalog", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(ctx, d.DB, cfg, d.Logger, d.Registry)
			if err != nil {
				return nil, err
			}
			built <- svc
			return svc.appService(d.Bus), nil
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
	doc, err := catalogDoc()
	if err != nil {
		t.Fatal(err)
	}
	e.client = &http.Client{Transport: openapitest.ValidatingTransport(t, doc, http.DefaultTransport,
		"GET /readyz", "GET /livez", "GET /metrics")}
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

// adminToken and customerToken are bearer tokens from the test issuer.
func (e *env) adminToken() string    { return e.issuer.Token("admin-1", "admin", "customer") }
func (e *env) customerToken() string { return e.issuer.Token("user-1", "customer") }

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

// do sends a request to the public listener with an optional bearer token
// and body (a string is sent as it is, anything else is marshalled), and
// headers given as name, value pairs.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.send(e.url, method, path, body, headers...)
}

// call sends a request to the internal listener with the service credential.
func (e *env) call(method, path string, body any) response {
	e.t.Helper()
	return e.send(e.internal, method, path, body, auth.ServiceTokenHeader, e.token)
}

func (e *env) send(base, method, path string, body any, headers ...string) response {
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
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
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

// createProduct makes an active product through the API with the given stock.
func (e *env) createProduct(sku string, price, stock int64, categoryIDs ...string) *Product {
	e.t.Helper()
	r := e.do("POST", "/api/v1/products", e.adminToken(), map[string]any{
		"sku": sku, "name": "Product " + sku, "price": map[string]any{"amount": price, "currency": "USD"},
		"status": "active", "category_ids": categoryIDs})
	expect(e.t, r, http.StatusCreated, "")
	var p Product
	r.json(e.t, &p)
	if stock != 0 {
		e.adjust(p.ID, stock)
		p.Available = stock
	}
	return &p
}

// adjust changes a product's stock through the API.
func (e *env) adjust(productID string, delta int64) Inventory {
	e.t.Helper()
	r := e.do("POST", "/api/v1/products/"+productID+"/inventory/adjustments", e.adminToken(),
		map[string]any{"delta": delta, "reason": "test"})
	expect(e.t, r, http.StatusOK, "")
	var inv Inventory
	r.json(e.t, &inv)
	return inv
}

// inventory reads a product's stock through the API.
func (e *env) inventory(productID string) Inventory {
	e.t.Helper()
	r := e.do("GET", "/api/v1/products/"+productID+"/inventory", e.adminToken(), nil)
	expect(e.t, r, http.StatusOK, "")
	var inv Inventory
	r.json(e.t, &inv)
	return inv
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

// testWriter sends the service's logs to the test's log and keeps them.
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

func sqliteURL(t testing.TB) string { return sqldbtest.SQLiteURL(t) }
