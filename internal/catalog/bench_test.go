package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
	"emporium/internal/platform/web"
)

// benchClient keeps enough idle connections for every concurrent client.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	Timeout: 30 * time.Second}

// jwksUnit stands in for the identity service: it serves the issuer's JWKS.
func jwksUnit(iss *authtest.Issuer) app.Unit {
	return app.Unit{Name: "identity", Build: func(context.Context, app.Deps) (*app.Service, error) {
		r := web.NewRouter()
		r.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Content-Type", "application/json")
			_, err := w.Write(iss.JWKS())
			return err
		})
		return &app.Service{Public: r, Paths: []string{"/.well-known/jwks.json"}}, nil
	}}
}

// allInOne runs the all-in-one with the catalog (demo data loaded) and
// returns the front door's base URL.
func allInOne(b *testing.B) string {
	b.Helper()
	cfg := testConfig()
	cfg.DemoData = true
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The default shutdown timeout (10s), not 5s: the gateway leaves connections to the catalog
	// that were dialled but never used, and http.Server waits 5s before it calls those idle.
	rt, err := app.StartAllInOne(ctx, app.AllInOne{Addr: "127.0.0.1:0", InternalAddr: "127.0.0.1:0",
		DataDir: b.TempDir()},
		[]app.Unit{jwksUnit(authtest.NewIssuer(b)), Unit(cfg)}, log)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("all-in-one: %v", err)
		}
	})
	base := "http://" + rt.Addr()
	eventually(b, 20*time.Second, "the all-in-one is ready", func() bool {
		res, err := benchClient.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return base
}

// get fetches url and fails unless it answers 200.
func get(url string) error {
	res, err := benchClient.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, res.StatusCode)
	}
	return nil
}

// measure runs b.N calls of op from clients goroutines (testkit.ClosedLoop).
func measure(b *testing.B, clients int, unit string, op func(i int) error) {
	b.Helper()
	testkit.ClosedLoop(b, clients, unit, func(c testkit.Call) error { return op(c.Index) })
}

// demoIDs returns the ids of the demo products, read through the front door.
func demoIDs(b *testing.B, base string) []string {
	b.Helper()
	res, err := benchClient.Get(base + "/api/v1/products?limit=100")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Items []*Product `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || len(page.Items) == 0 {
		b.Fatalf("demo products: %v (%d)", err, len(page.Items))
	}
	ids := make([]string, len(page.Items))
	for i, p := range page.Items {
		ids[i] = p.ID
	}
	return ids
}

// BenchmarkProductByID reads demo products by id through the all-in-one's
// front door, from 8 clients, with a warm cache.
func BenchmarkProductByID(b *testing.B) {
	base := allInOne(b)
	ids := demoIDs(b, base)
	for _, id := range ids { // warm the cache
		if err := get(base + "/api/v1/products/" + id); err != nil {
			b.Fatal(err)
		}
	}
	measure(b, 8, "req", func(i int) error {
		return get(base + "/api/v1/products/" + ids[i%len(ids)])
	})
}

// BenchmarkListPage reads the first page of 20 products through the
// all-in-one's front door, from 8 clients, with a warm cache.
func BenchmarkListPage(b *testing.B) {
	base := allInOne(b)
	url := base + "/api/v1/products?limit=20"
	if err := get(url); err != nil { // warm the cache
		b.Fatal(err)
	}
	measure(b, 8, "req", func(int) error { return get(url) })
}

// BenchmarkReserveContended takes one unit at a time of one product from 8
// goroutines, calling the service directly and through the internal HTTP API.
func BenchmarkReserveContended(b *testing.B) {
	dbs := []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return sqldbtest.SQLiteURL(b) }},
		{"postgres", func(b *testing.B) string {
			sqldbtest.NeedPostgres(b)
			return sqldbtest.PostgresDatabase(b, outbox.Schema, inbox.Schema, Schema)
		}},
	}
	for _, d := range dbs {
		b.Run("service/"+d.name, func(b *testing.B) {
			ctx := context.Background()
			svc := bareService(b, d.url(b))
			p, err := svc.CreateProduct(ctx, CreateProductRequest{SKU: "BENCH-1", Name: "Bench",
				Price: Money{Amount: 100, Currency: "USD"}, Status: StatusActive})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Adjust(ctx, p.ID, int64(b.N)+10, "bench"); err != nil {
				b.Fatal(err)
			}
			measure(b, 8, "reservations", func(i int) error {
				_, created, err := svc.Reserve(ctx, ReserveRequest{ReservationID: fmt.Sprintf("bench-%d", i),
					Items: []Line{{ProductID: p.ID, Quantity: 1}}, TTLSeconds: 600})
				if err == nil && !created {
					err = fmt.Errorf("bench-%d was not created", i)
				}
				return err
			})
		})
		b.Run("http/"+d.name, func(b *testing.B) {
			svc, internal, token := serveQuietly(b, d.url(b))
			ctx := context.Background()
			p, err := svc.CreateProduct(ctx, CreateProductRequest{SKU: "BENCH-1", Name: "Bench",
				Price: Money{Amount: 100, Currency: "USD"}, Status: StatusActive})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Adjust(ctx, p.ID, int64(b.N)+10, "bench"); err != nil {
				b.Fatal(err)
			}
			measure(b, 8, "reservations", func(i int) error {
				body, err := json.Marshal(reserveBody(fmt.Sprintf("bench-%d", i), 600, Line{p.ID, 1}))
				if err != nil {
					return err
				}
				req, err := http.NewRequest("POST", internal+"/internal/reservations", bytes.NewReader(body))
				if err != nil {
					return err
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(auth.ServiceTokenHeader, token)
				res, err := benchClient.Do(req)
				if err != nil {
					return err
				}
				defer res.Body.Close()
				if _, err := io.Copy(io.Discard, res.Body); err != nil {
					return err
				}
				if res.StatusCode != http.StatusCreated {
					return fmt.Errorf("reserve: %d", res.StatusCode)
				}
				return nil
			})
		})
	}
}

// serveQuietly runs the service as start does, through app.ServeService, but
// without the harness's per-request logs, and returns it with its internal
// base URL and the service credential.
func serveQuietly(b *testing.B, dbURL string) (*Service, string, string) {
	b.Helper()
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	internal, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	token := auth.NewServiceSecret()
	base := app.Base{DatabaseURL: dbURL, NATSURL: newNATS(b), ServiceToken: token,
		JWKSURL:       authtest.NewIssuer(b).JWKSURL(),
		Observability: app.Observability{ShutdownTimeout: 5 * time.Second}}
	built := make(chan *Service, 1)
	unit := app.Unit{Name: "catalog", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(ctx, d.DB, testConfig(), d.Logger, d.Registry)
			if err != nil {
				return nil, err
			}
			built <- svc
			return svc.appService(d.Bus), nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- app.ServeService(ctx, unit, base, app.Listeners{Public: pub, Internal: internal}, log)
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("service: %v", err)
		}
	})
	var svc *Service
	select {
	case svc = <-built:
	case err := <-done:
		b.Fatalf("service did not start: %v", err)
	}
	url := "http://" + internal.Addr().String()
	eventually(b, 20*time.Second, "the service is ready", func() bool {
		res, err := benchClient.Get(url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return svc, url, token
}
