package notifications

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
	"emporium/internal/notifications/notifytest"
	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/openapi/openapitest"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// env is the notifications service running as in production (see apptest),
// with authtest's issuer standing in for identity, a NATS server of its own,
// and a bus of the test's to publish the other services' events with.
type env struct {
	t       testing.TB
	svc     *Service
	url     string
	natsURL string
	dbURL   string
	issuer  *authtest.Issuer
	bus     *bus.Bus
	client  apptest.Client // validates every response against the OpenAPI document
	logs    *apptest.LogWriter
	stop    func()
	streams map[string]bool // the services whose stream the test made
}

// eachDB runs fn as a subtest on SQLite, and on PostgreSQL when configured.
func eachDB(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	sqldbtest.RunURL(t, []sqldb.Schema{outbox.Schema, inbox.Schema, effect.Schema, Schema}, fn)
}

// testConfig sends into a directory of the test's, retries within
// milliseconds and looks for work often.
func testConfig(t testing.TB) Config {
	return Config{ShopName: "Emporium", EmailFrom: "Emporium <no-reply@emporium.example>",
		TwilioAPIBase: "https://api.twilio.com", OutboxDir: t.TempDir(),
		SendTimeout: 5 * time.Second, MaxAttempts: 5, RetryInitial: 20 * time.Millisecond,
		RetryMax: 100 * time.Millisecond, Quota: 20, QuotaWindow: time.Hour,
		ContactWait: time.Hour, MaxEventAge: 72 * time.Hour, pollInterval: 20 * time.Millisecond,
		sweepEvery: 50 * time.Millisecond}
}

// start runs the service on dbURL and a new embedded NATS server.
func start(t testing.TB, dbURL string, edit func(*Config)) *env {
	t.Helper()
	return startOn(t, dbURL, apptest.NATS(t), authtest.NewIssuer(t), edit)
}

// startOn runs the service on dbURL and the NATS server at natsURL, trusting
// tokens from iss. Only the identity stream exists before it starts: orders
// and payments are created when a test first publishes to them, as when
// those services start after this one.
func startOn(t testing.TB, dbURL, natsURL string, iss *authtest.Issuer, edit func(*Config)) *env {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	e := &env{t: t, natsURL: natsURL, dbURL: dbURL, issuer: iss, streams: map[string]bool{}}
	e.bus = bustest.Dial(t, natsURL)
	ensureStream(t, e.bus, app.IdentityStream, "identity.>")
	ln := apptest.Listen(t)
	e.url, _ = apptest.URLs(ln)
	base := app.Base{DatabaseURL: dbURL, NATSURL: natsURL, ServiceToken: auth.NewServiceSecret(),
		JWKSURL: iss.JWKSURL()}
	u := Unit(cfg)
	build := u.Build
	u.Build = func(ctx context.Context, d app.Deps) (*app.Service, error) {
		s, err := build(ctx, d)
		if err == nil {
			e.svc = s.Public.(*Handler).svc
		}
		return s, err
	}
	srv := apptest.Serve(t, u, base, ln)
	e.logs, e.stop = srv.Logs, srv.Stop
	doc, err := notificationsDoc()
	if err != nil {
		t.Fatal(err)
	}
	e.client = apptest.Client{T: t, HTTP: &http.Client{Transport: openapitest.ValidatingTransport(t,
		doc, http.DefaultTransport, "GET /readyz", "GET /livez", "GET /metrics")}}
	return e
}

// ensureStream creates a stream as its publishing service would.
func ensureStream(t testing.TB, b *bus.Bus, name, subjects string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.EnsureStream(ctx, bus.StreamConfig{Name: name, Subjects: []string{subjects}}); err != nil {
		t.Fatal(err)
	}
}

// publish publishes events as their services would, creating their stream
// when it does not exist yet.
func (e *env) publish(envs ...event.Envelope) {
	e.t.Helper()
	for _, ev := range envs {
		e.ensureStreamOf(ev.Type)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := e.bus.PublishEvent(ctx, ev)
		cancel()
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// ensureStreamOf creates the stream of an event type's service, once.
func (e *env) ensureStreamOf(typ string) {
	e.t.Helper()
	service, _, _ := strings.Cut(typ, ".")
	if e.streams[service] {
		return
	}
	switch service {
	case "orders":
		ensureStream(e.t, e.bus, event.OrdersStream, "orders.>")
	case "payments":
		ensureStream(e.t, e.bus, event.PaymentsStream, "payments.>")
	}
	e.streams[service] = true
}

// redeliver publishes ev again under another message id, as the outbox relay
// of its service does after the stream's duplicate window: the consumer
// receives the same event a second time.
func (e *env) redeliver(ev event.Envelope) {
	e.t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.bus.Publish(ctx, ev.Type, ev.ID+"-again", data, nil); err != nil {
		e.t.Fatal(err)
	}
}

// consumed waits until the durable has handled every message of its stream.
func (e *env) consumed(stream, durable string) {
	e.t.Helper()
	testkit.Eventually(e.t, 15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := e.bus.JetStream().Consumer(ctx, stream, durable)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, "consumer %s did not handle everything on %s", durable, stream)
}

func (e *env) adminToken() string { return e.issuer.Token("admin-1", "admin", "customer") }

func (e *env) customerToken(userID string) string { return e.issuer.Token(userID, "customer") }

// do sends a request to the public listener with an optional bearer token.
func (e *env) do(method, path, token string) apptest.Response {
	e.t.Helper()
	var headers []string
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return e.client.Do(method, e.url+path, nil, headers...)
}

// deliveries lists the delivery log through the API: the admin's when
// userID is "", the customer's otherwise; query is added as it is.
func (e *env) deliveries(userID string, query url.Values) []Delivery {
	e.t.Helper()
	path, token := "/api/v1/admin/notifications", e.adminToken()
	if userID != "" {
		path, token = "/api/v1/users/me/notifications", e.customerToken(userID)
	}
	if query == nil {
		query = url.Values{}
	}
	query.Set("limit", "100")
	r := e.do("GET", path+"?"+query.Encode(), token)
	apptest.Expect(e.t, r, http.StatusOK, "")
	var l DeliveryList
	r.JSON(e.t, &l)
	return l.Items
}

// waitDeliveries waits until the admin's log holds n deliveries of the
// event that are no longer pending, and returns them (email first).
func (e *env) waitDeliveries(eventID string, n int) []Delivery {
	e.t.Helper()
	var got []Delivery
	testkit.Eventually(e.t, 20*time.Second, func() bool {
		got = got[:0]
		for _, d := range e.deliveries("", nil) {
			if d.EventID == eventID || eventID == "" {
				got = append(got, d)
			}
		}
		done := len(got) == n
		for _, d := range got {
			done = done && d.Status != StatusPending
		}
		return done
	}, "no %d settled deliveries of event %s; have %+v", n, eventID, &got)
	if len(got) == 2 && got[0].Channel == ChannelSMS {
		got[0], got[1] = got[1], got[0]
	}
	return got
}

// The events of the other services, as they publish them.

func newEvent(t testing.TB, typ string, data any) event.Envelope {
	t.Helper()
	ev, err := event.New(typ, strings.SplitN(typ, ".", 2)[0], data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// registered is identity.user.registered of a customer; phone "" for none.
func registered(t testing.TB, userID, email, name, phone string, optIn bool) event.Envelope {
	t.Helper()
	uc := event.UserContact{UserID: userID, Email: email, Name: name, SMSOptIn: optIn}
	if phone != "" {
		uc.Phone = &phone
	}
	return newEvent(t, event.UserRegistered, uc)
}

// orderEvent is an orders.order.* event of the sample order, for customerID.
func orderEvent(t testing.TB, typ, customerID string, edit func(*event.OrderChanged)) event.Envelope {
	t.Helper()
	o := sampleOrder(strings.TrimPrefix(typ, "orders.order."))
	o.CustomerID = customerID
	if edit != nil {
		edit(&o)
	}
	return newEvent(t, typ, o)
}

func sqliteURL(t testing.TB) string { return sqldbtest.SQLiteURL(t) }

// natsAndIssuer is a NATS server and a token issuer that outlive one
// instance of the service, for tests that restart it.
type natsAndIssuer struct {
	url    string
	issuer *authtest.Issuer
}

func e2eNATS(t testing.TB) natsAndIssuer {
	return natsAndIssuer{url: apptest.NATS(t), issuer: authtest.NewIssuer(t)}
}

// effectsDone reports whether every recorded effect is done or failed.
func (e *env) effectsDone() bool {
	var n int
	err := e.svc.db.QueryRowContext(context.Background(), `SELECT count(*) FROM effects
		WHERE done_at IS NULL AND failed_at IS NULL`).Scan(&n)
	return err == nil && n == 0
}

// waitDeadLetter waits for a dead letter on subject and returns the newest.
func waitDeadLetter(t testing.TB, e *env, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	var msg *jetstream.RawStreamMsg
	testkit.Eventually(t, 15*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := e.bus.JetStream().Stream(ctx, bus.DeadLetterStream)
		if err != nil {
			return false
		}
		msg, err = s.GetLastMsgForSubject(ctx, subject)
		return err == nil
	}, "no dead letter on %s", subject)
	return msg
}

func decodeJSON(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// param is a query of one parameter.
func param(name, value string) url.Values { return url.Values{name: {value}} }

// twilioConfig points cfg at a Twilio test server, sending from
// +15005550006.
func twilioConfig(cfg *Config, s *notifytest.TwilioServer) {
	cfg.TwilioAccountSID, cfg.TwilioAuthToken = s.AccountSID, s.Token
	cfg.TwilioFrom, cfg.TwilioAPIBase = "+15005550006", s.URL
}
