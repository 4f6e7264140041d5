package catalog

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/openapi/openapitest"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// env is the catalog service running as in production (see apptest), with
// authtest's issuer standing in for identity and the internal listener
// behind the service credential.
type env struct {
	t        testing.TB
	svc      *Service
	url      string // public base URL
	internal string // internal base URL
	natsURL  string
	dbURL    string
	token    string // the service credential
	issuer   *authtest.Issuer
	client   apptest.Client // validates every response against the OpenAPI document
	logs     *apptest.LogWriter
	stop     func() // stops the service and waits; safe to call twice
}

var (
	eventually = apptest.Eventually
	newNATS    = apptest.NATS
)

// response is an answer the test got (apptest.Response, under the names
// these tests use).
type response struct {
	status int
	header http.Header
	body   []byte
}

func responseOf(r apptest.Response) response { return response{r.Status, r.Header, r.Body} }

func (r response) apptest() apptest.Response {
	return apptest.Response{Status: r.status, Header: r.header, Body: r.body}
}

// json decodes the body into v, failing the test when it cannot.
func (r response) json(t testing.TB, v any) { t.Helper(); r.apptest().JSON(t, v) }

// problem returns the body's code and the fields named in its errors.
func (r response) problem(t testing.TB) (string, []string) { t.Helper(); return r.apptest().Problem(t) }

// expect checks a response's status and, for problems, its code.
func expect(t testing.TB, r response, status int, code string) {
	t.Helper()
	apptest.Expect(t, r.apptest(), status, code)
}

// eachDB runs fn as a subtest on SQLite, and on PostgreSQL when configured.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	sqldbtest.RunURL(t, []sqldb.Schema{outbox.Schema, inbox.Schema, Schema}, fn)
}

func testConfig() Config {
	return Config{Currency: "USD", SweepInterval: 50 * time.Millisecond, CacheTTL: time.Minute, CacheEntries: 1000}
}

var catalogDoc = sync.OnceValues(func() (*openapitest.Document, error) { return openapitest.Load(OpenAPI) })

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
	e := &env{t: t, natsURL: natsURL, dbURL: dbURL, issuer: iss, token: auth.NewServiceSecret()}
	ln := apptest.Listen(t)
	e.url, e.internal = apptest.URLs(ln)
	base := app.Base{DatabaseURL: dbURL, NATSURL: natsURL, ServiceToken: e.token, JWKSURL: iss.JWKSURL()}
	unit := app.Unit{Name: "catalog", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(ctx, d.DB, cfg, d.Logger, d.Registry)
			if err != nil {
				return nil, err
			}
			e.svc = svc
			return svc.appService(d.Bus), nil
		}}
	srv := apptest.Serve(t, unit, base, ln)
	e.logs, e.stop = srv.Logs, srv.Stop
	doc, err := catalogDoc()
	if err != nil {
		t.Fatal(err)
	}
	e.client = apptest.Client{T: t, HTTP: &http.Client{Transport: openapitest.ValidatingTransport(t, doc,
		http.DefaultTransport, "GET /readyz", "GET /livez", "GET /metrics")}}
	return e
}

// adminToken and customerToken are bearer tokens from the test issuer.
func (e *env) adminToken() string    { return e.issuer.Token("admin-1", "admin", "customer") }
func (e *env) customerToken() string { return e.issuer.Token("user-1", "customer") }

// do sends a request to the public listener with an optional bearer token,
// a body (see apptest.Client.Do) and headers as name, value pairs.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return responseOf(e.client.Do(method, e.url+path, body, headers...))
}

// call sends a request to the internal listener with the service credential.
func (e *env) call(method, path string, body any) response {
	e.t.Helper()
	return responseOf(e.client.Do(method, e.internal+path, body, auth.ServiceTokenHeader, e.token))
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

func sqliteURL(t testing.TB) string { return sqldbtest.SQLiteURL(t) }
