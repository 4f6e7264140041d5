package orders

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/httpclient"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Config is the orders service's own configuration.
type Config struct {
	Currency string `env:"ORDERS_CURRENCY" default:"USD"`
	// ShippingFee is the flat shipping fee in minor units; FreeShippingFrom
	// the subtotal (minor units) from which shipping is free.
	ShippingFee      int64 `env:"ORDERS_SHIPPING_FEE" default:"499"`
	FreeShippingFrom int64 `env:"ORDERS_FREE_SHIPPING_FROM" default:"5000"`
	// PaymentWindow is how long a placed order waits for its payment before
	// it is cancelled and its stock released.
	PaymentWindow time.Duration `env:"EMPORIUM_PAYMENT_WINDOW" default:"30m"`
	// SweepInterval is how often stalled checkouts are driven on and
	// overdue orders cancelled.
	SweepInterval time.Duration `env:"ORDERS_SWEEP_INTERVAL" default:"1s"`

	now   func() time.Time // tests set the clock; time.Now when nil
	lease time.Duration    // tests shorten a checkout's lease; defaultLease when 0
}

// Time limits of the service.
const (
	// holdGrace is how much longer than the payment window a reservation
	// lasts: time for the expiry worker, for a payment event on its way, and
	// for a checkout placed late by recovery (abandonAfter).
	holdGrace = 15 * time.Minute
	// maxHold is the longest reservation the catalog grants.
	maxHold = 24 * time.Hour
	// defaultLease is how long a checkout's request holds the checkout (and
	// its key) before a retry or the recovery worker may take it over: longer
	// than any checkout takes unless a peer is failing, and short enough that
	// a crashed request's checkout is finished soon after.
	defaultLease = 5 * time.Second
	// keepKeys is how long Idempotency-Key records are kept (API.md).
	keepKeys = 72 * time.Hour
)

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate checks what the types alone cannot.
func (c *Config) Validate() error {
	var problems []error
	if !currencyPattern.MatchString(c.Currency) {
		problems = append(problems, errors.New("ORDERS_CURRENCY must be an ISO 4217 code such as USD"))
	}
	if c.ShippingFee < 0 {
		problems = append(problems, errors.New("ORDERS_SHIPPING_FEE must not be negative"))
	}
	if c.FreeShippingFrom < 0 {
		problems = append(problems, errors.New("ORDERS_FREE_SHIPPING_FROM must not be negative"))
	}
	if c.PaymentWindow < time.Second || c.PaymentWindow > maxHold-holdGrace {
		problems = append(problems, fmt.Errorf("EMPORIUM_PAYMENT_WINDOW must be from 1s to %s "+
			"(a reservation lasts the window and %s, at most %s)", maxHold-holdGrace, holdGrace, maxHold))
	}
	if c.SweepInterval < 10*time.Millisecond {
		problems = append(problems, errors.New("ORDERS_SWEEP_INTERVAL must be at least 10ms"))
	}
	return errors.Join(problems...)
}

//go:embed migrations/*.sql
var migrations embed.FS

// OpenAPI is the service's OpenAPI 3.1 document.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Schema is the service's database schema.
var Schema = sqldb.Schema{Name: "orders", FS: must(fs.Sub(migrations, "migrations"))}

// Stream is where the orders service's events go.
var Stream = bus.StreamConfig{Name: event.OrdersStream, Subjects: []string{"orders.>"},
	MaxAge: 7 * 24 * time.Hour}

// Unit describes the orders service to the runtime. It calls the catalog,
// cart and payments services at d.Peers' internal URLs.
func Unit(cfg Config) app.Unit {
	return app.Unit{Name: "orders", Schemas: []sqldb.Schema{Schema, effect.Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			return New(d, cfg).appService(d.Logger, d.Registry), nil
		}}
}

// catalogTimeout bounds one call to the catalog (other peers get
// httpclient.DefaultTimeout).
const catalogTimeout = 5 * time.Second

// New builds the service from the runtime's dependencies.
func New(d app.Deps, cfg Config) *Service {
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	lease := cfg.lease
	if lease == 0 {
		lease = defaultLease
	}
	log := observability.OrDefault(d.Logger)
	peer := func(name string, timeout time.Duration) *httpclient.Client {
		return httpclient.New(httpclient.Config{Name: name, BaseURL: d.Peers[name],
			Timeout: timeout, Header: auth.ServiceHeader(d.ServiceToken), Logger: log,
			Registerer: d.Registry})
	}
	return &Service{db: d.DB, log: log, now: now,
		// A reservation of a product many customers buy at once waits its
		// turn on the product's row: under a rush it is slow, not failing,
		// and must not open the breaker for everyone.
		catalog: catalogClient{peer("catalog", catalogTimeout)}, cart: cartClient{peer("cart", 0)},
		payments: paymentsClient{peer("payments", 0)},
		currency: cfg.Currency, shipping: Shipping{Fee: cfg.ShippingFee, FreeFrom: cfg.FreeShippingFrom},
		window: cfg.PaymentWindow, holdFor: cfg.PaymentWindow + holdGrace, lease: lease,
		keepKeys: keepKeys, sweepEvery: cfg.SweepInterval}
}

// appService is the service as the runtime runs it.
func (s *Service) appService(log *slog.Logger, reg prometheus.Registerer) *app.Service {
	effects := s.effectsRunner(effect.RunnerConfig{Logger: log, Registerer: reg})
	return &app.Service{
		Public: NewHandler(s),
		Paths: []string{"/api/v1/orders", "/api/v1/orders/", "/api/v1/admin/orders",
			"/api/v1/admin/orders/", "/openapi/orders.yaml"},
		Stream:    &Stream,
		Consumers: []bus.ConsumerConfig{s.paymentEvents()},
		Workers: []app.Worker{
			{Name: "checkout-recovery", Run: s.recovery},
			{Name: "payment-window", Run: s.expiry},
			{Name: "effects", Run: effects.Run},
			{Name: "idempotency-janitor", Run: s.janitor},
		},
		Checks: []web.Check{
			{Name: "catalog", Run: s.catalog.c.Check},
			{Name: "cart", Run: s.cart.c.Check},
			{Name: "payments", Run: s.payments.c.Check},
		},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
