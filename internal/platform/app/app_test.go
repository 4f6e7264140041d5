package app_test

import (
	"context"
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/testkit"
	"emporium/internal/platform/web"
)

//go:embed testdata/widgets/*.sql
var widgetMigrations embed.FS

// widgets is a made-up service that exercises everything the runtime wires:
// public routes behind authentication, an internal route behind the service
// credential, an outbox event and a consumer with an inbox.
func widgets(deps chan<- app.Deps) app.Unit {
	sub, _ := fs.Sub(widgetMigrations, "testdata/widgets")
	return app.Unit{
		Name:    "widgets",
		Schemas: []sqldb.Schema{{Name: "widgets", FS: sub}},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			deps <- d
			pub := web.NewRouter()
			pub.HandleFunc("POST /api/v1/widgets", func(w http.ResponseWriter, r *http.Request) error {
				var in struct {
					Name string `json:"name"`
				}
				if err := web.Decode(w, r, &in); err != nil {
					return err
				}
				env, err := event.New("widgets.widget.created", "widgets", map[string]string{"name": in.Name})
				if err != nil {
					return err
				}
				err = d.DB.Tx(r.Context(), func(tx *sqldb.Tx) error {
					if _, err := tx.ExecContext(r.Context(),
						"INSERT INTO widgets (id, name) VALUES ($1, $2)", env.ID, in.Name); err != nil {
						return err
					}
					return outbox.Add(r.Context(), tx, env)
				})
				if err != nil {
					return err
				}
				return web.JSON(w, http.StatusCreated, map[string]string{"id": env.ID})
			})
			pub.HandleFunc("GET /api/v1/widgets/me", auth.RequireUser(
				func(w http.ResponseWriter, r *http.Request) error {
					c, _ := auth.CallerFrom(r.Context())
					return web.JSON(w, http.StatusOK, map[string]string{"user_id": c.UserID})
				}))
			internal := web.NewRouter()
			internal.HandleFunc("GET /internal/widgets/seen", func(w http.ResponseWriter, r *http.Request) error {
				var n int
				if err := d.DB.QueryRowContext(r.Context(), "SELECT count(*) FROM seen").Scan(&n); err != nil {
					return err
				}
				return web.JSON(w, http.StatusOK, map[string]int{"seen": n})
			})
			return &app.Service{
				Public:   pub,
				Paths:    []string{"/api/v1/widgets", "/api/v1/widgets/"},
				Internal: internal,
				Stream:   &bus.StreamConfig{Name: "WIDGETS", Subjects: []string{"widgets.>"}},
				Consumers: []bus.ConsumerConfig{{
					Stream: "WIDGETS", Durable: "widgets-seen",
					FilterSubjects: []string{"widgets.widget.created"},
					Handler: func(ctx context.Context, env event.Envelope) error {
						return inbox.Process(ctx, d.DB, "widgets-seen", env, func(tx *sqldb.Tx) error {
							_, err := tx.ExecContext(ctx,
								"INSERT INTO seen (event_id, widget_id) VALUES ($1, $1)", env.ID)
							return err
						})
					},
				}},
			}, nil
		},
	}
}

// identityJWKS stands in for the identity service: it serves a real JWKS.
func identityJWKS(iss *authtest.Issuer) app.Unit {
	return app.Unit{Name: "identity", Build: func(context.Context, app.Deps) (*app.Service, error) {
		r := web.NewRouter()
		r.Handle("GET /.well-known/jwks.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(iss.JWKS())
		}))
		return &app.Service{Public: r, Paths: []string{"/.well-known/jwks.json"}}, nil
	}}
}

func TestAllInOne(t *testing.T) {
	iss := authtest.NewIssuer(t)
	deps := make(chan app.Deps, 1)
	cfg := app.AllInOne{Addr: "127.0.0.1:0", InternalAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := app.StartAllInOne(ctx, cfg, []app.Unit{identityJWKS(iss), widgets(deps)}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-rt.Ready():
		t.Fatal("Ready is closed before Run")
	default:
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	base := "http://" + rt.Addr()
	d := <-deps
	widgetsInternal := d.Peers["widgets"]

	// Ready once the revocation feed has read what there is (nothing here).
	testkit.Eventually(t, 10*time.Second, func() bool {
		return status(t, "GET", base+"/readyz", "", nil) == http.StatusOK
	}, "the front door is not ready")
	select {
	case <-rt.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Ready is not closed although every service is ready")
	}
	if got := status(t, "POST", base+"/api/v1/widgets", `{"name":"sprocket"}`, nil); got != http.StatusCreated {
		t.Fatalf("create widget = %d, want 201", got)
	}
	if got := status(t, "POST", base+"/api/v1/widgets", `{"name":`, nil); got != http.StatusBadRequest {
		t.Errorf("malformed body through the front door = %d, want 400", got)
	}
	// Too large a body is refused at the front door, whether its length is
	// announced or not.
	big := strings.Repeat("x", 2<<20)
	if got := call(t, "POST", base+"/api/v1/widgets", `{"name":"`+big+`"}`, nil, nil); got != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body with a length = %d, want 413", got)
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/widgets", io.MultiReader(strings.NewReader(`{"name":"`+big+`"}`)))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("2 MiB chunked body: %v", err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("2 MiB chunked body = %d, want 413", res.StatusCode)
		}
	}
	if got := status(t, "GET", base+"/api/v1/widgets/me", "", nil); got != http.StatusUnauthorized {
		t.Errorf("me without a token = %d, want 401", got)
	}
	bearer := http.Header{"Authorization": {"Bearer " + iss.Token("user-42", "customer")}}
	var me map[string]string
	if got := call(t, "GET", base+"/api/v1/widgets/me", "", bearer, &me); got != http.StatusOK || me["user_id"] != "user-42" {
		t.Errorf("me with a token = %d %v, want 200 user-42", got, me)
	}

	// The internal route is not behind the front door, and needs the service credential.
	if got := status(t, "GET", base+"/internal/widgets/seen", "", nil); got != http.StatusNotFound {
		t.Errorf("internal route through the front door = %d, want 404", got)
	}
	if got := status(t, "GET", widgetsInternal+"/internal/widgets/seen", "", bearer); got != http.StatusUnauthorized {
		t.Errorf("internal route with a customer token = %d, want 401", got)
	}
	// The event went through the outbox, the bus and the consumer's inbox.
	testkit.Eventually(t, 10*time.Second, func() bool {
		var seen map[string]int
		call(t, "GET", widgetsInternal+"/internal/widgets/seen", "", auth.ServiceHeader(d.ServiceToken), &seen)
		return seen["seen"] == 1
	}, "the consumer did not see the widget event")

	// Metrics for the whole process, each service labelled.
	var metrics string
	call(t, "GET", "http://"+rt.InternalAddr()+"/metrics", "", nil, &metrics)
	for _, want := range []string{
		`http_server_request_duration_seconds_count{http_request_method="POST",` +
			`http_response_status_code="201",http_route="POST /api/v1/widgets",service="widgets"} 1`,
		`service="gateway"`,
		`emporium_outbox_published_total{service="widgets"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// panicky is a made-up service whose worker panics on its first run, then
// reports each later run on runs and works until it is stopped.
func panicky(runs chan<- int) app.Unit {
	return app.Unit{Name: "panicky", Build: func(context.Context, app.Deps) (*app.Service, error) {
		r := web.NewRouter()
		r.HandleFunc("GET /api/v1/panicky", func(w http.ResponseWriter, _ *http.Request) error {
			return web.JSON(w, http.StatusOK, map[string]string{"status": "fine"})
		})
		n := 0
		return &app.Service{Public: r, Paths: []string{"/api/v1/panicky"},
			Workers: []app.Worker{{Name: "sweeper", Run: func(ctx context.Context) error {
				n++
				if n == 1 {
					panic("sweeper bug")
				}
				runs <- n
				<-ctx.Done()
				return nil
			}}}}, nil
	}}
}

// A worker's panic is recovered and the worker started again, while every
// service of the all-in-one goes on serving.
func TestWorkerPanicKeepsTheProcessServing(t *testing.T) {
	iss := authtest.NewIssuer(t)
	deps := make(chan app.Deps, 1)
	runs := make(chan int, 1)
	cfg := app.AllInOne{Addr: "127.0.0.1:0", InternalAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := app.StartAllInOne(ctx, cfg, []app.Unit{identityJWKS(iss), widgets(deps), panicky(runs)},
		testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	select {
	case n := <-runs:
		if n != 2 {
			t.Errorf("the worker's run after its panic is run %d, want 2", n)
		}
	case err := <-done:
		t.Fatalf("Run returned %v after a worker's panic", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not run again after its panic")
	}
	base := "http://" + rt.Addr()
	for _, path := range []string{"/readyz", "/api/v1/panicky", "/.well-known/jwks.json"} {
		if got := status(t, "GET", base+path, "", nil); got != http.StatusOK {
			t.Errorf("GET %s after the panic = %d, want 200", path, got)
		}
	}
	if got := status(t, "POST", base+"/api/v1/widgets", `{"name":"cog"}`, nil); got != http.StatusCreated {
		t.Errorf("create widget after the panic = %d, want 201", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func status(t *testing.T, method, url, body string, h http.Header) int {
	t.Helper()
	return call(t, method, url, body, h, nil)
}

// call makes a request and decodes a JSON answer into out (or, when out is a
// *string, stores the body).
func call(t *testing.T, method, url, body string, h http.Header, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if s, ok := out.(*string); ok {
		*s = string(b)
	} else if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode
}

type testWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Logf("%s", strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewJSONHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
