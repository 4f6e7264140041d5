//go:build e2e

// The end-to-end test of the production topology (make e2e): every service
// as its own processes behind Nginx, on PostgreSQL (a database per service,
// made for the run and dropped after), a NATS JetStream server and Redis
// (private to the run; see startNATS), two catalog replicas among them. A
// customer's journey goes through Nginx: register, browse, add to cart,
// check out, pay — each step runs once its service is in
// deploy/services.json, which a test keeps equal to cmd/, so a step is
// never skipped for a service that exists. One catalog replica is killed
// with SIGKILL while reads go on, and restarted.
package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/deploy"
	"emporium/internal/platform/testkit"
)

func TestEndToEnd(t *testing.T) {
	pg := os.Getenv("EMPORIUM_TEST_POSTGRES_URL")
	if pg == "" {
		t.Fatal("EMPORIUM_TEST_POSTGRES_URL is not set: the end-to-end test needs PostgreSQL")
	}
	dir := t.TempDir()
	otlp := startReceiver(t)
	run := randomHex(4)
	adminEmail, adminPassword := "admin-"+run+"@example.com", "admin password "+run
	ctx := t.Context()
	topo, err := Start(ctx, Config{
		Dir:            filepath.Join(dir, "topology"),
		Root:           "../..",
		PostgresURL:    pg,
		DatabasePrefix: "e2e_" + run,
		DropDatabases:  true,
		NATSURL:        startNATS(t, dir),
		RedisURL:       startRedis(t, dir),
		Env: append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp.URL,
			"EMPORIUM_ADMIN_EMAIL="+adminEmail, "EMPORIUM_ADMIN_PASSWORD="+adminPassword,
			"IDENTITY_ARGON2_MEMORY_KIB=19456", "LOG_LEVEL=info"),
		AuthRate: "5r/s", AuthBurst: 10,
		Progress: testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			topo.Stop(context.Background())
		}
		if t.Failed() {
			dumpLogs(t, topo)
		}
	})
	c := &client{t: t, base: topo.URL()}

	// Register and browse.
	var session struct {
		User struct {
			ID    string   `json:"id"`
			Roles []string `json:"roles"`
		} `json:"user"`
		AccessToken string `json:"access_token"`
	}
	registerTrace := randomHex(16)
	c.do("POST", "/api/v1/auth/register", "", map[string]any{"email": "ada-" + run + "@example.com",
		"password": "correct horse battery", "name": "Ada"}, traceparent(registerTrace)).
		want(http.StatusCreated).decode(&session)
	customer := session.AccessToken
	c.do("GET", "/api/v1/users/me", customer, nil, nil).want(http.StatusOK)

	var admin = session
	c.do("POST", "/api/v1/auth/login", "", map[string]any{"email": adminEmail, "password": adminPassword},
		nil).want(http.StatusOK).decode(&admin)
	if !slices.Contains(admin.User.Roles, "admin") {
		t.Fatalf("the EMPORIUM_ADMIN_EMAIL account has roles %v, want admin", admin.User.Roles)
	}

	c.do("GET", "/api/v1/categories", "", nil, nil).want(http.StatusOK)
	var list struct {
		Items []struct {
			ID        string `json:"id"`
			Available int    `json:"available"`
		} `json:"items"`
	}
	c.do("GET", "/api/v1/products?limit=20&in_stock=true", "", nil, nil).want(http.StatusOK).decode(&list)
	if len(list.Items) < 2 {
		t.Fatalf("%d products in stock in the demo catalog, want several", len(list.Items))
	}
	product := list.Items[0].ID
	res := c.do("GET", "/api/v1/products/"+product, "", nil, nil).want(http.StatusOK)
	if etag := res.header.Get("ETag"); etag == "" {
		t.Error("a product read through Nginx has no ETag")
	} else {
		c.do("GET", "/api/v1/products/"+product, "", nil, http.Header{"If-None-Match": {etag}}).
			want(http.StatusNotModified)
	}

	t.Run("every replica serves its probes and metrics on its internal port", func(t *testing.T) {
		for _, p := range topo.Processes() {
			internal := &client{t: t, base: "http://" + p.InternalAddr}
			internal.do("GET", "/livez", "", nil, nil).want(http.StatusOK)
			internal.do("GET", "/readyz", "", nil, nil).want(http.StatusOK)
			metrics := internal.do("GET", "/metrics", "", nil, nil).want(http.StatusOK)
			if !bytes.Contains(metrics.body, []byte(`service="`+p.Service+`"`)) {
				t.Errorf("%s's /metrics has no series labelled service=%q", p.Name, p.Service)
			}
			public := &client{t: t, base: "http://" + p.PublicAddr}
			public.do("GET", "/metrics", "", nil, nil).wantProblem(http.StatusNotFound, "not_found")
		}
	})

	t.Run("a catalog replica killed mid-run", func(t *testing.T) {
		killReplica(t, ctx, topo, &client{t: t, base: topo.URL()}, product, admin.AccessToken)
	})

	t.Run("internal routes are not reachable through Nginx", func(t *testing.T) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/internal/products?ids=" + product}, {"POST", "/internal/reservations"},
			{"GET", "/metrics"},
		} {
			c.do(r.method, r.path, admin.AccessToken, map[string]any{}, nil).wantProblem(http.StatusNotFound, "not_found")
		}
	})

	traceID := randomHex(16)
	traced := traceparent(traceID)
	var crossed []string
	payTrace := "" // the trace of the payment's confirmation, once payments exists
	if !has("cart") {
		t.Log("SKIP add to cart, check out and pay: cmd/cart does not exist yet")
	} else {
		c.do("POST", "/api/v1/cart/items", customer, map[string]any{"product_id": product, "quantity": 2},
			nil).want(http.StatusOK)
		var cart struct {
			ItemCount int `json:"item_count"`
		}
		c.do("GET", "/api/v1/cart", customer, nil, nil).want(http.StatusOK).decode(&cart)
		if cart.ItemCount != 2 {
			t.Errorf("cart holds %d units, want 2", cart.ItemCount)
		}
	}
	if has("cart") && !has("orders") {
		t.Log("SKIP check out and pay: cmd/orders does not exist yet")
	}
	if has("cart") && has("orders") {
		crossed, payTrace = checkoutAndPay(t, c, customer, traced)
	}
	if has("notifications") {
		var deliveries struct {
			Items []delivery `json:"items"`
		}
		want := []string{"identity.user.registered"} // the welcome email
		if payTrace != "" {
			want = append(want, "orders.order.paid") // the order's confirmation
		}
		testkit.Eventually(t, 30*time.Second, func() bool {
			c.do("GET", "/api/v1/users/me/notifications", customer, nil, nil).want(http.StatusOK).
				decode(&deliveries)
			for _, w := range want {
				if !slices.ContainsFunc(deliveries.Items, func(d delivery) bool { return d.EventType == w }) {
					return false
				}
			}
			return true
		}, "the customer's notifications are %+v, want one for each of %v", &deliveries, want)
	} else {
		t.Log("SKIP the customer's notifications: cmd/notifications does not exist yet")
	}

	t.Run("one trace across the services", func(t *testing.T) {
		if crossed == nil {
			// Until orders exists, one catalog read: Nginx passes the
			// client's trace context on, and catalog exports its span.
			t.Log("orders does not exist yet: the trace of one catalog read through Nginx")
			c.do("GET", "/api/v1/products/"+product, "", nil, traced).want(http.StatusOK)
			crossed = []string{"catalog"}
		}
		wantTrace(t, otlp, traceID, crossed)
		if has("notifications") {
			// A NATS hop: identity's outbox carries the registration's trace
			// context to notifications, which consumes the event in it.
			wantTrace(t, otlp, registerTrace, []string{"identity", "notifications"})
		}
		if payTrace != "" {
			// And the payment's: payments publishes its success, orders
			// consumes it and marks the order paid, in the confirmation's trace.
			wantTrace(t, otlp, payTrace, []string{"payments", "orders"})
		}
	})

	t.Run("Nginx's own 413 and 429 are problems with the request id", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 1<<20+1)
		r := c.raw("POST", "/api/v1/products", admin.AccessToken, big, http.Header{"X-Request-Id": {"e2e-413-" + run}})
		r.wantProblem(http.StatusRequestEntityTooLarge, "body_too_large")
		if got := r.header.Get("X-Request-Id"); got != "e2e-413-"+run {
			t.Errorf("413 X-Request-ID = %q, want the client's", got)
		}
		for i := range 100 {
			r = c.do("POST", "/api/v1/auth/refresh", "", map[string]any{}, nil)
			if r.status == http.StatusTooManyRequests {
				break
			}
			if i == 99 {
				t.Fatalf("100 quick requests to /api/v1/auth/ and no 429 (last %d)", r.status)
			}
		}
		r.wantProblem(http.StatusTooManyRequests, "rate_limited")
	})

	stopped = true
	if err := topo.Stop(context.Background()); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// killReplica reads through Nginx without pause, kills one catalog replica
// with SIGKILL in the middle, and checks that every read was answered and
// that a product written while a replica was down is seen by both once it
// is back.
func killReplica(t *testing.T, ctx context.Context, topo *Topology, c *client, product, adminToken string) {
	replicas := topo.Replicas("catalog")
	if len(replicas) < 2 {
		t.Fatalf("%d catalog replicas, want 2", len(replicas))
	}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		reads    int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		reader := &http.Client{Timeout: 10 * time.Second}
		for i := 0; i < 5000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			path := "/api/v1/products/" + product
			if i%2 == 1 {
				path = "/api/v1/products?limit=5"
			}
			status := 0
			if res, err := reader.Get(c.base + path); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				status = res.StatusCode
			}
			mu.Lock()
			statuses[status]++
			reads++
			mu.Unlock()
		}
	}()
	readsSoFar := func() int {
		mu.Lock()
		defer mu.Unlock()
		return reads
	}
	testkit.Eventually(t, 30*time.Second, func() bool { return readsSoFar() >= 50 }, "reads did not start")
	// Nginx balances the reads over both replicas (least_conn), as its
	// access log says.
	testkit.Eventually(t, 30*time.Second, func() bool {
		served := upstreams(t, topo)
		return served[replicas[0].PublicAddr] > 0 && served[replicas[1].PublicAddr] > 0
	}, "the reads did not reach both catalog replicas: %v", upstreams(t, topo))
	killed := replicas[0]
	if err := killed.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s with SIGKILL after %d reads", killed.Name, readsSoFar())
	atKill := readsSoFar()

	// Written while one replica is down: it must not be lost.
	var created struct {
		ID string `json:"id"`
	}
	sku := "E2E-" + randomHex(4)
	c.do("POST", "/api/v1/products", adminToken, map[string]any{"sku": sku, "name": "Kill test " + sku,
		"price": map[string]any{"amount": 1234, "currency": "USD"}, "status": "active"}, nil).
		want(http.StatusCreated).decode(&created)

	testkit.Eventually(t, 30*time.Second, func() bool { return readsSoFar() >= atKill+200 },
		"reads stalled after the kill")
	close(stop)
	<-done
	mu.Lock()
	t.Logf("reads through Nginx: %d, by status %v", reads, statuses)
	if len(statuses) != 1 || statuses[http.StatusOK] != reads {
		t.Errorf("reads answered %v, want every one 200", statuses)
	}
	mu.Unlock()

	if err := topo.Restart(ctx, killed); err != nil {
		t.Fatal(err)
	}
	for _, p := range replicas {
		direct := &client{t: t, base: "http://" + p.PublicAddr}
		var got struct {
			SKU string `json:"sku"`
		}
		direct.do("GET", "/api/v1/products/"+created.ID, "", nil, nil).want(http.StatusOK).decode(&got)
		if got.SKU != sku {
			t.Errorf("%s reads the product written during the kill with sku %q, want %q", p.Name, got.SKU, sku)
		}
	}
	c.do("GET", "/api/v1/products/"+product, "", nil, nil).want(http.StatusOK)
}

// upstreams counts the requests each upstream address answered, from
// Nginx's access log (JSON lines).
func upstreams(t *testing.T, topo *Topology) map[string]int {
	b, err := os.ReadFile(filepath.Join(topo.cfg.Dir, "nginx", "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var entry struct {
			Upstream string `json:"upstream"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Upstream != "" {
			counts[entry.Upstream]++
		}
	}
	return counts
}

// checkoutAndPay checks the cart out with the trace context traced, pays
// with the sandbox's card that succeeds, and waits for the order to be paid.
// It returns the services the checkout crossed, and the trace id of the
// payment's confirmation ("" when payments does not exist yet).
func checkoutAndPay(t *testing.T, c *client, customer string, traced http.Header) ([]string, string) {
	var placed struct {
		Order struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"order"`
		Payment struct {
			ID string `json:"id"`
		} `json:"payment"`
	}
	h := traced.Clone()
	h.Set("Idempotency-Key", "e2e-"+randomHex(8))
	c.do("POST", "/api/v1/orders", customer, map[string]any{"shipping_address": map[string]any{
		"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London", "postal_code": "N1 1AA",
		"country": "GB"}}, h).want(http.StatusCreated).decode(&placed)
	if placed.Order.Status != "pending_payment" {
		t.Errorf("a placed order is %q, want pending_payment", placed.Order.Status)
	}
	crossed := []string{"orders", "cart", "catalog"}
	if !has("payments") {
		t.Log("SKIP pay: cmd/payments does not exist yet")
		return crossed, ""
	}
	crossed = append(crossed, "payments")
	var payment struct {
		Status string `json:"status"`
	}
	payTrace := randomHex(16)
	c.do("POST", "/api/v1/payments/"+placed.Payment.ID+"/confirm", customer,
		map[string]any{"payment_method": "pm_card_visa"}, traceparent(payTrace)).want(http.StatusOK).decode(&payment)
	if payment.Status != "succeeded" && payment.Status != "processing" {
		t.Errorf("payment confirmed with the card that succeeds is %q", payment.Status)
	}
	testkit.Eventually(t, 30*time.Second, func() bool {
		var order struct {
			Status string `json:"status"`
		}
		c.do("GET", "/api/v1/orders/"+placed.Order.ID, customer, nil, nil).want(http.StatusOK).decode(&order)
		return order.Status == "paid"
	}, "the order was not paid after its payment succeeded")
	return crossed, payTrace
}

// wantTrace waits until the trace has spans from every service in crossed
// and, when more than one service is crossed, a span of a NATS delivery.
func wantTrace(t *testing.T, otlp *receiver, traceID string, crossed []string) {
	var spans []span
	err := testkit.Poll(30*time.Second, func() bool {
		spans = otlp.trace(traceID)
		for _, svc := range crossed {
			if !slices.ContainsFunc(spans, func(s span) bool { return s.Service == svc }) {
				return false
			}
		}
		return len(crossed) == 1 || slices.ContainsFunc(spans, func(s span) bool {
			return strings.HasPrefix(s.Name, "consume ")
		})
	})
	if err != nil {
		var seen []string
		for _, s := range spans {
			seen = append(seen, s.Service+": "+s.Name)
		}
		t.Fatalf("trace %s: want spans from %v (and a NATS delivery when several); have %v",
			traceID, crossed, seen)
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Service+": "+s.Name)
	}
	t.Logf("trace %s: %d spans from %v: %s", traceID, len(spans), crossed, strings.Join(names, "; "))
}

// delivery is a notification as the customer's log lists it.
type delivery struct {
	EventType string `json:"event_type"`
}

// traceparent is a W3C trace context header starting a sampled trace id.
func traceparent(traceID string) http.Header {
	return http.Header{"Traceparent": {"00-" + traceID + "-" + randomHex(8) + "-01"}}
}

// has reports whether a service is deployed. deploy.Services is kept equal
// to cmd/ by TestEveryCommandIsDeployed: a service with a command is never
// skipped here.
func has(name string) bool { return slices.Contains(deploy.Names(), name) }

type client struct {
	t    *testing.T
	base string
}

type response struct {
	t      *testing.T
	req    string
	status int
	header http.Header
	body   []byte
}

func (c *client) do(method, path, token string, body any, h http.Header) *response {
	c.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	return c.raw(method, path, token, b, h)
}

func (c *client) raw(method, path, token string, body []byte, h http.Header) *response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{t: c.t, req: method + " " + path, status: res.StatusCode, header: res.Header, body: b}
}

func (r *response) want(status int) *response {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("%s = %d %s, want %d", r.req, r.status, r.body, status)
	}
	if r.header.Get("X-Request-Id") == "" {
		r.t.Errorf("%s: no X-Request-ID", r.req)
	}
	return r
}

func (r *response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		r.t.Fatalf("%s: %v: %s", r.req, err, r.body)
	}
}

// wantProblem checks an RFC 9457 answer with its status, its code and the
// request id in X-Request-ID (and in the body, where Nginx answered).
func (r *response) wantProblem(status int, code string) {
	r.t.Helper()
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil {
		r.t.Fatalf("%s = %d %q: not JSON", r.req, r.status, r.body)
	}
	id := r.header.Get("X-Request-Id")
	switch {
	case r.status != status || p["code"] != code || p["status"] != float64(status):
		r.t.Errorf("%s = %d %s, want %d %s", r.req, r.status, r.body, status, code)
	case r.header.Get("Content-Type") != "application/problem+json":
		r.t.Errorf("%s: Content-Type %q", r.req, r.header.Get("Content-Type"))
	case id == "" || (p["request_id"] != nil && p["request_id"] != id):
		r.t.Errorf("%s: X-Request-ID %q, body's request_id %v", r.req, id, p["request_id"])
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// dumpLogs prints the end of every replica's log and Nginx's.
func dumpLogs(t *testing.T, topo *Topology) {
	logs, _ := filepath.Glob(filepath.Join(topo.cfg.Dir, "logs", "*.log"))
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		t.Logf("--- %s (end)\n%s", filepath.Base(path), b)
	}
	if b, err := os.ReadFile(filepath.Join(topo.cfg.Dir, "nginx", "access.log")); err == nil {
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("--- nginx access log (end)\n%s", b)
	}
}
