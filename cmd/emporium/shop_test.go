package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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
