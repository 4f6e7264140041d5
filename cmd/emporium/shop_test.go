package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"emporium/internal/orders"
	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/config"
	"emporium/internal/platform/gateway"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/openapi/openapitest"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
	"emporium/internal/platform/web"
)

// The shop's tests run every service as in production — each on its own
// listeners and database (SQLite, or PostgreSQL when
// EMPORIUM_TEST_POSTGRES_URL is set), one NATS server, and the real front
// door (gateway) in front — and talk to it only through the front door.

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery staple"
)

// shopOptions adjust the shop a test runs.
type shopOptions struct {
	window time.Duration // the payment window; 30m when zero
	faults bool          // the orders service calls the catalog and payments through fault proxies
}

// shop is the running shop.
type shop struct {
	t       testing.TB
	kind    string // "sqlite" or "postgres"
	front   string // the front door's base URL
	natsURL string
	token   string
	peers   app.Peers
	jwksURL string
	nodes   map[string]*node
	client  apptest.Client // holds orders answers to the OpenAPI document
	admin   string         // an admin's access token
	// catalogFaults and paymentsFaults stand between the orders service and
	// those peers (shopOptions.faults).
	catalogFaults, paymentsFaults *faults
}

// node is one service of the shop.
type node struct {
	unit            app.Unit
	dbURL           string
	public, interna string // listener addresses
	paths           []string
	srv             *apptest.Server
	// catalogURL and paymentsURL, when set, replace those peers' URLs.
	catalogURL, paymentsURL string
}

// eachDB runs fn on a fresh shop on SQLite and, when configured, on PostgreSQL.
func eachDB(t *testing.T, opts shopOptions, fn func(t *testing.T, s *shop)) {
	t.Helper()
	kinds := []string{"sqlite"}
	if sqldbtest.PostgresURL() != "" {
		kinds = append(kinds, "postgres")
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) { fn(t, startShop(t, kind, opts)) })
	}
}

// defaults fills cfg with its defaults, as the environment leaves them.
func defaults[T any](t testing.TB, cfg *T) *T {
	t.Helper()
	if err := config.LoadFrom(func(string) (string, bool) { return "", false }, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// shopConfig is the all-in-one's configuration for a test: defaults, a
// known admin, no demo catalog, workers at a test's pace.
func shopConfig(t testing.TB, opts shopOptions) Config {
	cfg := defaults(t, &Config{})
	cfg.DataDir = t.TempDir() // where the notifications land without SMTP or Twilio
	kek := make([]byte, 32)
	rand.Read(kek)
	cfg.Identity.KeyEncryptionKey = base64.StdEncoding.EncodeToString(kek)
	cfg.Identity.AdminEmail, cfg.Identity.AdminPassword = adminEmail, adminPassword
	cfg.Catalog.DemoData, cfg.Catalog.SweepInterval = false, 50*time.Millisecond
	cfg.Orders.SweepInterval = 50 * time.Millisecond
	if opts.window != 0 {
		cfg.Orders.PaymentWindow = opts.window
	}
	return *cfg
}

// shopUnits are the services of the shop: the all-in-one's.
func shopUnits(t testing.TB, cfg Config) []app.Unit {
	units, err := services(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return units
}

var ordersDoc = sync.OnceValues(func() (*openapitest.Document, error) {
	return openapitest.Load(orders.OpenAPI)
})

// startShop runs the shop on databases of kind.
func startShop(t testing.TB, kind string, opts shopOptions) *shop {
	t.Helper()
	s := &shop{t: t, kind: kind, natsURL: apptest.NATS(t), token: auth.NewServiceSecret(),
		nodes: map[string]*node{}}
	units := shopUnits(t, shopConfig(t, opts))
	lns := map[string]app.Listeners{}
	peers := map[string]string{}
	for _, u := range units {
		ln := apptest.Listen(t)
		lns[u.Name] = ln
		s.nodes[u.Name] = &node{unit: u, public: ln.Public.Addr().String(), interna: ln.Internal.Addr().String()}
		peers[u.Name] = "http://" + ln.Internal.Addr().String()
	}
	s.peers = app.Peers{Identity: peers["identity"], Catalog: peers["catalog"], Cart: peers["cart"],
		Orders: peers["orders"], Payments: peers["payments"]}
	s.jwksURL = "http://" + s.nodes["identity"].public + "/.well-known/jwks.json"
	if opts.faults {
		s.catalogFaults, s.nodes["orders"].catalogURL = faultProxy(t, peers["catalog"])
		s.paymentsFaults, s.nodes["orders"].paymentsURL = faultProxy(t, peers["payments"])
	}
	var routes []gateway.Route
	for _, u := range units {
		n := s.nodes[u.Name]
		switch kind {
		case "postgres":
			n.dbURL = sqldbtest.PostgresDatabase(t,
				append([]sqldb.Schema{outbox.Schema, inbox.Schema}, u.Schemas...)...)
		default:
			n.dbURL = sqldbtest.SQLiteURL(t)
		}
		s.serve(n, lns[u.Name])
		target := &url.URL{Scheme: "http", Host: n.public}
		for _, p := range n.paths {
			routes = append(routes, gateway.Route{Path: p, Target: target})
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := gateway.New(routes, http.NotFoundHandler(), quiet)
	front := httptest.NewServer(web.Stack(gw, web.StackConfig{Logger: quiet}))
	t.Cleanup(func() { gw.CloseIdle(); front.Close() })
	s.front = front.URL
	doc, err := ordersDoc()
	if err != nil {
		t.Fatal(err)
	}
	s.client = apptest.Client{T: t, HTTP: &http.Client{Transport: ordersOnly{
		orders: openapitest.ValidatingTransport(t, doc, http.DefaultTransport),
		rest:   http.DefaultTransport,
	}}}
	s.admin = s.login(adminEmail, adminPassword)
	return s
}

// ordersOnly holds the orders service's answers to its OpenAPI document.
type ordersOnly struct{ orders, rest http.RoundTripper }

func (o ordersOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/api/v1/orders") || strings.HasPrefix(r.URL.Path, "/api/v1/admin/orders") {
		return o.orders.RoundTrip(r)
	}
	return o.rest.RoundTrip(r)
}

// serve runs n on ln.
func (s *shop) serve(n *node, ln app.Listeners) {
	s.t.Helper()
	u := n.unit
	build := u.Build
	u.Build = func(ctx context.Context, d app.Deps) (*app.Service, error) {
		svc, err := build(ctx, d)
		if err == nil {
			n.paths = svc.Paths
		}
		return svc, err
	}
	peers := s.peers
	if n.catalogURL != "" {
		peers.Catalog, peers.Payments = n.catalogURL, n.paymentsURL
	}
	// Six services share the one PostgreSQL server with every other test:
	// 8 connections each, not the production default of 25.
	base := app.Base{DatabaseURL: n.dbURL, NATSURL: s.natsURL, ServiceToken: s.token,
		JWKSURL: s.jwksURL, Peers: peers, ShutdownDrain: 0,
		DatabasePool: app.DatabasePool{MaxConns: 8}}
	n.srv = apptest.Serve(s.t, u, base, ln)
}

// replica starts another instance of the service name on its database and
// peers, on listeners of its own (the front door does not route to it: it
// runs the service's workers and consumers beside the first).
func (s *shop) replica(name string) {
	s.t.Helper()
	n := *s.nodes[name]
	s.serve(&n, apptest.Listen(s.t))
}

// stop stops the service name, as a crash or a deploy would.
func (s *shop) stop(name string) { s.nodes[name].srv.Stop() }

// restart starts the service name again on its database and addresses.
func (s *shop) restart(name string) {
	s.t.Helper()
	n := s.nodes[name]
	n.srv.Stop()
	var ln app.Listeners
	var err error
	testkit.Eventually(s.t, 10*time.Second, func() bool {
		ln.Public, err = net.Listen("tcp", n.public)
		if err != nil {
			return false
		}
		if ln.Internal, err = net.Listen("tcp", n.interna); err != nil {
			ln.Public.Close()
			return false
		}
		return true
	}, "rebinding %s's addresses: %v", name, err)
	s.serve(n, ln)
}

// do sends a request to the front door with an optional bearer token.
func (s *shop) do(method, path, token string, body any, headers ...string) apptest.Response {
	s.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return s.client.Do(method, s.front+path, body, headers...)
}

// expect checks a response's status and, for a problem, its code.
func (s *shop) expect(r apptest.Response, status int, code string) apptest.Response {
	s.t.Helper()
	apptest.Expect(s.t, r, status, code)
	return r
}

func (s *shop) login(email, password string) string {
	s.t.Helper()
	r := s.expect(s.do("POST", "/api/v1/auth/login", "", map[string]any{"email": email,
		"password": password}), http.StatusOK, "")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(s.t, &out)
	return out.AccessToken
}

var customers atomic.Int64

// customer registers a new customer and returns its id and access token.
func (s *shop) customer() (id, token string) {
	s.t.Helper()
	email := fmt.Sprintf("customer%d-%d@example.com", customers.Add(1), time.Now().UnixNano())
	r := s.expect(s.do("POST", "/api/v1/auth/register", "", map[string]any{"email": email,
		"password": "correct horse battery staple", "name": "Customer"}), http.StatusCreated, "")
	var out struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	r.JSON(s.t, &out)
	return out.User.ID, out.AccessToken
}

// product makes an active product with stock and returns its id.
func (s *shop) product(price, stock int64) string {
	s.t.Helper()
	sku := fmt.Sprintf("SKU-%d", time.Now().UnixNano())
	r := s.expect(s.do("POST", "/api/v1/products", s.admin, map[string]any{"sku": sku,
		"name": "Product " + sku, "price": money(price), "status": "active"}), http.StatusCreated, "")
	var p struct {
		ID string `json:"id"`
	}
	r.JSON(s.t, &p)
	if stock > 0 {
		s.expect(s.do("POST", "/api/v1/products/"+p.ID+"/inventory/adjustments", s.admin,
			map[string]any{"delta": stock, "reason": "test"}), http.StatusOK, "")
	}
	return p.ID
}

func money(amount int64) map[string]any { return map[string]any{"amount": amount, "currency": "USD"} }

// inventory is a product's stock.
type inventory struct {
	OnHand    int64 `json:"on_hand"`
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
}

func (s *shop) inventory(productID string) inventory {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/products/"+productID+"/inventory", s.admin, nil), http.StatusOK, "")
	var inv inventory
	r.JSON(s.t, &inv)
	return inv
}

// addToCart puts quantity of a product in the customer's cart.
func (s *shop) addToCart(token, productID string, quantity int) {
	s.t.Helper()
	s.expect(s.do("POST", "/api/v1/cart/items", token, map[string]any{"product_id": productID,
		"quantity": quantity}), http.StatusOK, "")
}

// setCartQuantity sets the quantity of a line of the customer's cart; 0
// removes it.
func (s *shop) setCartQuantity(token, productID string, quantity int) {
	s.t.Helper()
	s.expect(s.do("PATCH", "/api/v1/cart/items/"+productID, token, map[string]any{"quantity": quantity}),
		http.StatusOK, "")
}

// cartQuantity is how many of a product the customer's cart holds.
func (s *shop) cartQuantity(token, productID string) int {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/cart", token, nil), http.StatusOK, "")
	var c struct {
		Items []struct {
			ProductID string `json:"product_id"`
			Quantity  int    `json:"quantity"`
		} `json:"items"`
	}
	r.JSON(s.t, &c)
	for _, it := range c.Items {
		if it.ProductID == productID {
			return it.Quantity
		}
	}
	return 0
}

// address is a valid checkout body.
func address() map[string]any {
	return map[string]any{"shipping_address": map[string]any{"name": "Ada Lovelace",
		"line1": "12 St James's Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}}
}

// checkout posts a checkout under key.
func (s *shop) checkout(token, key string, body any) apptest.Response {
	s.t.Helper()
	return s.do("POST", "/api/v1/orders", token, body, "Idempotency-Key", key)
}

// placed is the answer to a checkout that placed an order.
type placed struct {
	Order   order   `json:"order"`
	Payment payment `json:"payment"`
}

// payment is a payment as answered.
type payment struct {
	ID          string    `json:"id"`
	OrderID     string    `json:"order_id"`
	Amount      moneyView `json:"amount"`
	Status      string    `json:"status"`
	FailureCode *string   `json:"failure_code"`
}

// order is an order as answered.
type order struct {
	ID             string `json:"id"`
	Number         string `json:"number"`
	CustomerID     string `json:"customer_id"`
	Status         string `json:"status"`
	TrackingNumber string `json:"tracking_number"`
	PaymentID      string `json:"payment_id"`
	Items          []struct {
		ProductID string `json:"product_id"`
		Quantity  int    `json:"quantity"`
	} `json:"items"`
	Subtotal      moneyView `json:"subtotal"`
	Shipping      moneyView `json:"shipping"`
	Total         moneyView `json:"total"`
	StatusHistory []struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"status_history"`
}

// moneyView is money as answered.
type moneyView struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// place checks out the customer's cart and expects an order.
func (s *shop) place(token string) placed {
	s.t.Helper()
	r := s.expect(s.checkout(token, newKey(), address()), http.StatusCreated, "")
	var p placed
	r.JSON(s.t, &p)
	return p
}

// retryCheckout repeats a checkout under key as a careful client does —
// again after a 503 or a 409 request_in_progress, at most every Retry-After —
// until it is answered otherwise, and returns that answer.
func (s *shop) retryCheckout(token, key string) apptest.Response {
	s.t.Helper()
	var r apptest.Response
	eventuallyT(s.t, "the checkout is answered", func() bool {
		r = s.checkout(token, key, address())
		code, _ := r.Problem(s.t)
		if r.Status == http.StatusServiceUnavailable ||
			r.Status == http.StatusConflict && code == "request_in_progress" {
			time.Sleep(100 * time.Millisecond) // a client's pause, not a wait for the test's condition
			return false
		}
		return true
	})
	return r
}

func newKey() string { return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), customers.Add(1)) }

// order reads an order.
func (s *shop) order(token, id string) order {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/orders/"+id, token, nil), http.StatusOK, "")
	var o order
	r.JSON(s.t, &o)
	return o
}

// waitStatus waits until the order has status.
func (s *shop) waitStatus(token, id, status string) order {
	s.t.Helper()
	var o order
	apptest.Eventually(s.t, 20*time.Second, "order "+id+" is "+status, func() bool {
		o = s.order(token, id)
		return o.Status == status
	})
	return o
}

// confirm confirms a payment with a test payment method.
func (s *shop) confirm(token, paymentID, method string) payment {
	s.t.Helper()
	r := s.expect(s.do("POST", "/api/v1/payments/"+paymentID+"/confirm", token,
		map[string]any{"payment_method": method}), http.StatusOK, "")
	var p payment
	r.JSON(s.t, &p)
	return p
}

// paymentOf reads a payment.
func (s *shop) paymentOf(token, id string) payment {
	s.t.Helper()
	r := s.expect(s.do("GET", "/api/v1/payments/"+id, token, nil), http.StatusOK, "")
	var p payment
	r.JSON(s.t, &p)
	return p
}

// waitStock waits until a product's stock is want.
func (s *shop) waitStock(productID string, want inventory) {
	s.t.Helper()
	var got inventory
	apptest.Eventually(s.t, 20*time.Second, fmt.Sprintf("stock %+v", want), func() bool {
		got = s.inventory(productID)
		return got == want
	})
}

// orders lists every order of a customer (admin view), all pages.
func (s *shop) ordersOf(customerID string) []order {
	s.t.Helper()
	var all []order
	cursor := ""
	for {
		r := s.expect(s.do("GET", "/api/v1/admin/orders?limit=100&customer_id="+customerID+"&cursor="+cursor,
			s.admin, nil), http.StatusOK, "")
		var page struct {
			Items      []order `json:"items"`
			NextCursor string  `json:"next_cursor"`
		}
		r.JSON(s.t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// eventuallyT waits up to 20 seconds for cond.
func eventuallyT(t testing.TB, what string, cond func() bool) {
	t.Helper()
	apptest.Eventually(t, 20*time.Second, what, cond)
}
