package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
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

// env is the payments service running as in production (see apptest), with
// authtest's issuer standing in for identity and the internal listener
// behind the service credential.
type env struct {
	t        testing.TB
	svc      *Service
	sandbox  *sandbox // nil with Stripe
	url      string   // public base URL
	internal string   // internal base URL
	dbURL    string
	natsURL  string
	token    string // the service credential
	issuer   *authtest.Issuer
	client   apptest.Client // validates every response against the OpenAPI document
	logs     *apptest.LogWriter
	db       *sqldb.DB // for the tests' own reads
	stop     func()
}

var eventually = apptest.Eventually

// response is an answer the test got.
type response = apptest.Response

func expect(t testing.TB, r response, status int, code string) {
	t.Helper()
	apptest.Expect(t, r, status, code)
}

// eachDB runs fn as a subtest on SQLite, and on PostgreSQL when configured.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	sqldbtest.RunURL(t, []sqldb.Schema{outbox.Schema, inbox.Schema, Schema}, fn)
}

// webhookSecret is the tests' Stripe webhook secret.
const webhookSecret = "whsec_test_secret_do_not_log"

func testConfig() Config {
	return Config{Currency: "USD", StripeWebhookSecret: webhookSecret, ReconcileInterval: time.Hour,
		ReconcileAfter: time.Minute}
}

var paymentsDoc = sync.OnceValues(func() (*openapitest.Document, error) { return openapitest.Load(OpenAPI) })

// start runs the service on dbURL and a new embedded NATS server.
func start(t testing.TB, dbURL string, edit func(*Config)) *env {
	t.Helper()
	return startOn(t, dbURL, apptest.NATS(t), authtest.NewIssuer(t), edit)
}

// startOn runs the service on dbURL, the NATS server at natsURL, trusting
// tokens from iss.
func startOn(t testing.TB, dbURL, natsURL string, iss *authtest.Issuer, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	e := &env{t: t, natsURL: natsURL, dbURL: dbURL, issuer: iss, token: auth.NewServiceSecret()}
	adjust := cfg.sandbox
	cfg.sandbox = func(sb *sandbox) {
		e.sandbox = sb
		if adjust != nil {
			adjust(sb)
		}
	}
	ln := apptest.Listen(t)
	e.url, e.internal = apptest.URLs(ln)
	base := app.Base{DatabaseURL: dbURL, NATSURL: natsURL, ServiceToken: e.token, JWKSURL: iss.JWKSURL()}
	unit := app.Unit{Name: "payments", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			e.svc = New(d.DB, cfg, d.Logger)
			return e.svc.appService(), nil
		}}
	srv := apptest.Serve(t, unit, base, ln)
	e.logs, e.stop = srv.Logs, srv.Stop
	doc, err := paymentsDoc()
	if err != nil {
		t.Fatal(err)
	}
	e.client = apptest.Client{T: t, HTTP: &http.Client{Transport: openapitest.ValidatingTransport(t, doc,
		http.DefaultTransport, "GET /readyz", "GET /livez", "GET /metrics")}}
	if e.db, err = sqldb.Open(context.Background(), dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	return e
}

// Tokens from the test issuer: the customer who pays, another customer, an admin.
func (e *env) customer() string { return e.issuer.Token("customer-1", "customer") }
func (e *env) stranger() string { return e.issuer.Token("customer-2", "customer") }
func (e *env) admin() string    { return e.issuer.Token("admin-1", "admin", "customer") }

// do sends a request to the public listener with an optional bearer token.
func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.client.Do(method, e.url+path, body, headers...)
}

// call sends a request to the internal listener with the service credential.
func (e *env) call(method, path string, body any) response {
	e.t.Helper()
	return e.client.Do(method, e.internal+path, body, auth.ServiceTokenHeader, e.token)
}

// view is a payment as the API answers it.
type view struct {
	ID           string  `json:"id"`
	OrderID      string  `json:"order_id"`
	CustomerID   string  `json:"customer_id"`
	Provider     string  `json:"provider"`
	Amount       Money   `json:"amount"`
	Refunded     *Money  `json:"refunded"`
	Status       string  `json:"status"`
	ClientSecret *string `json:"client_secret"`
	FailureCode  *string `json:"failure_code"`
}

func decode(t testing.TB, r response) view {
	t.Helper()
	var v view
	r.JSON(t, &v)
	return v
}

// create makes a payment of amount for customer-1's new order.
func (e *env) create(amount int64) view {
	e.t.Helper()
	r := e.call("POST", "/internal/payments", map[string]any{"order_id": "order-" + uuid.NewString(),
		"customer_id": "customer-1", "amount": map[string]any{"amount": amount, "currency": "USD"}})
	expect(e.t, r, http.StatusCreated, "")
	return decode(e.t, r)
}

// confirm confirms a payment as customer-1.
func (e *env) confirm(id, method string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/payments/"+id+"/confirm", e.customer(), map[string]string{"payment_method": method})
}

// events returns the data of the events of a type the service wrote to the
// outbox about a payment, oldest first.
func (e *env) events(typ, paymentID string) []event.PaymentChanged {
	e.t.Helper()
	rows, err := e.db.QueryContext(context.Background(), "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", typ)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []event.PaymentChanged
	for rows.Next() {
		var payload string
		var env event.Envelope
		var pc event.PaymentChanged
		if err := rows.Scan(&payload); err != nil || json.Unmarshal([]byte(payload), &env) != nil ||
			env.Decode(&pc) != nil {
			e.t.Fatalf("outbox row: %v %q", err, payload)
		}
		if pc.PaymentID == paymentID {
			out = append(out, pc)
		}
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// count runs a SELECT COUNT(*) … and returns its answer.
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// payment reads a payment from the database.
func (e *env) payment(id string) *Payment {
	e.t.Helper()
	p, err := paymentByID(context.Background(), e.db, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *p)
}
