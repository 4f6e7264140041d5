package cart

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
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
	"emporium/internal/platform/testkit"
)

// env is the cart service running as in production (see apptest) beside
// the real catalog service (see catalogService), with authtest's issuer
// standing in for identity.
type env struct {
	t        testing.TB
	svc      *Service
	cfg      Config
	url      string // the cart's public base URL
	internal string // the cart's internal base URL
	natsURL  string
	dbURL    string
	token    string // the service credential
	issuer   *authtest.Issuer
	catalog  *catalogService
	client   apptest.Client // validates every cart response against the OpenAPI document
	plain    apptest.Client // for the catalog's routes
	stop     func()         // stops the cart and waits; safe to call twice
}

// response is an answer the test got.
type response = apptest.Response

var expect = apptest.Expect

// eachDB runs fn as a subtest on SQLite, and on PostgreSQL when configured.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	sqldbtest.RunURL(t, []sqldb.Schema{outbox.Schema, inbox.Schema, Schema}, fn)
}

func testConfig() Config {
	return Config{Currency: "USD", GuestTTL: 720 * time.Hour, SweepInterval: time.Hour,
		CatalogTimeout: time.Second, CatalogBreakerFailures: 5, CatalogBreakerOpenFor: 200 * time.Millisecond}
}

var cartDoc = sync.OnceValues(func() (*openapitest.Document, error) { return openapitest.Load(OpenAPI) })

// start runs the catalog and the cart on dbURL, a new NATS server and a new
// issuer; edit changes the cart's configuration.
func start(t testing.TB, dbURL string, edit func(*Config)) *env {
	t.Helper()
	e := &env{t: t, dbURL: dbURL, natsURL: apptest.NATS(t), issuer: authtest.NewIssuer(t),
		token: auth.NewServiceSecret(), cfg: testConfig()}
	if edit != nil {
		edit(&e.cfg)
	}
	e.catalog = startCatalog(t, e.natsURL, e.issuer, e.token)
	doc, err := cartDoc()
	if err != nil {
		t.Fatal(err)
	}
	e.client = apptest.Client{T: t, HTTP: &http.Client{Transport: openapitest.ValidatingTransport(t, doc,
		http.DefaultTransport, "GET /readyz", "GET /livez", "GET /metrics")}}
	e.plain = apptest.Client{T: t}
	e.startCart()
	return e
}

// startCart (re)starts the cart service on the env's database.
func (e *env) startCart() {
	e.t.Helper()
	ln := apptest.Listen(e.t)
	e.url, e.internal = apptest.URLs(ln)
	base := app.Base{DatabaseURL: e.dbURL, NATSURL: e.natsURL, ServiceToken: e.token,
		JWKSURL: e.issuer.JWKSURL(), Peers: app.Peers{Catalog: e.catalog.internal}}
	unit := app.Unit{Name: "cart", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(d.DB, e.cfg, d.Peers["catalog"], d.ServiceToken, d.Logger, d.Registry)
			if err != nil {
				return nil, err
			}
			e.svc = svc
			return svc.appService(d.Bus), nil
		}}
	e.stop = apptest.Serve(e.t, unit, base, ln).Stop
}

// restartCart stops the cart service and starts it again on the same data.
func (e *env) restartCart() {
	e.t.Helper()
	e.stop()
	e.startCart()
}

// customer returns a customer's bearer token.
func (e *env) customer(id string) string { return e.issuer.Token(id, "customer") }

// do sends a request to the cart's public listener with headers as name,
// value pairs; token, when not empty, is sent as the bearer token.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.client.Do(method, e.url+path, body, headers...)
}

// guest sends a request without a bearer token, naming the guest cart
// cartToken when it is not empty.
func (e *env) guest(method, path, cartToken string, body any) response {
	e.t.Helper()
	if cartToken != "" {
		return e.do(method, path, "", body, TokenHeader, cartToken)
	}
	return e.do(method, path, "", body)
}

// read reads a customer's cart, which must answer 200.
func (e *env) read(token string) Cart {
	e.t.Helper()
	r := e.do("GET", "/api/v1/cart", token, nil)
	expect(e.t, r, http.StatusOK, "")
	var c Cart
	r.JSON(e.t, &c)
	return c
}

// add adds a product to a customer's cart, which must answer 200.
func (e *env) add(token, productID string, quantity int) Cart {
	e.t.Helper()
	r := e.do("POST", "/api/v1/cart/items", token, map[string]any{"product_id": productID, "quantity": quantity})
	expect(e.t, r, http.StatusOK, "")
	var c Cart
	r.JSON(e.t, &c)
	return c
}

// product is a catalog product as the tests make them.
type testProduct struct {
	ID    string `json:"id"`
	SKU   string `json:"sku"`
	Name  string `json:"name"`
	Price Money  `json:"price"`
}

var skuSeq struct {
	sync.Mutex
	n int
}

// createProduct makes a product through the catalog's admin API, with
// stock; status is "active" unless given.
func (e *env) createProduct(price int64, stock int64, status ...string) testProduct {
	e.t.Helper()
	skuSeq.Lock()
	skuSeq.n++
	sku := fmt.Sprintf("SKU-%d", skuSeq.n)
	skuSeq.Unlock()
	st := "active"
	if len(status) > 0 {
		st = status[0]
	}
	admin := "Bearer " + e.issuer.Token("admin-1", "admin", "customer")
	r := e.plain.Do("POST", e.catalog.url+"/api/v1/products", map[string]any{
		"sku": sku, "name": "Product " + sku, "price": map[string]any{"amount": price, "currency": "USD"},
		"status": st}, "Authorization", admin)
	expect(e.t, r, http.StatusCreated, "")
	var p testProduct
	r.JSON(e.t, &p)
	if stock > 0 {
		r = e.plain.Do("POST", e.catalog.url+"/api/v1/products/"+p.ID+"/inventory/adjustments",
			map[string]any{"delta": stock, "reason": "test"}, "Authorization", admin)
		expect(e.t, r, http.StatusOK, "")
	}
	return p
}

// editProduct changes a product through the catalog's admin API.
func (e *env) editProduct(id string, change map[string]any) {
	e.t.Helper()
	r := e.plain.Do("PATCH", e.catalog.url+"/api/v1/products/"+id, change,
		"Authorization", "Bearer "+e.issuer.Token("admin-1", "admin", "customer"))
	expect(e.t, r, http.StatusOK, "")
}

// catalogCalls returns how many calls the cart has made to the catalog,
// from its metrics.
func (e *env) catalogCalls() int {
	e.t.Helper()
	return int(e.metric("http_client_request_duration_seconds_count", `peer="catalog"`))
}

// breaker returns the state of the cart's breaker for the catalog: 0
// closed, 1 half-open, 2 open.
func (e *env) breaker() int {
	e.t.Helper()
	return int(e.metric("http_client_breaker_state", `peer="catalog"`))
}

// metric sums the cart's series of a metric whose labels include label.
func (e *env) metric(name, label string) float64 {
	e.t.Helper()
	res, err := http.Get(e.internal + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, name+"{") && strings.Contains(l, label) {
			var v float64
			if _, err := fmt.Sscan(l[strings.LastIndexByte(l, ' ')+1:], &v); err != nil {
				e.t.Fatalf("metrics line %q: %v", l, err)
			}
			sum += v
		}
	}
	return sum
}

var eventually = apptest.Eventually

// clock is a test clock that starts now, for guest carts' ages.
func clock() *testkit.Clock { return testkit.NewClockAt(time.Now().UTC()) }
