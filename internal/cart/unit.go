package cart

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/app"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/sqldb"
)

// Config is the cart service's own configuration.
type Config struct {
	// Currency is the store's currency, the catalog's setting (one variable
	// for both): the currency of an empty cart's subtotal.
	Currency string `env:"CATALOG_CURRENCY" default:"USD"`
	// GuestTTL is how long a guest cart lives after its last change.
	GuestTTL time.Duration `env:"CART_GUEST_TTL" default:"720h"`
	// SweepInterval is how often expired guest carts are deleted.
	SweepInterval time.Duration `env:"CART_SWEEP_INTERVAL" default:"1h"`
	// CatalogTimeout bounds one call to the catalog (see catalogConfig): a GET is tried twice at most.
	CatalogTimeout time.Duration `env:"CART_CATALOG_TIMEOUT" default:"1s"`
	// CatalogBreakerFailures failed calls to the catalog in a row open the
	// breaker for CatalogBreakerOpenFor.
	CatalogBreakerFailures int           `env:"CART_CATALOG_BREAKER_FAILURES" default:"5"`
	CatalogBreakerOpenFor  time.Duration `env:"CART_CATALOG_BREAKER_OPEN_FOR" default:"5s"`

	now func() time.Time // tests set the clock; time.Now when nil
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate checks what the types alone cannot.
func (c *Config) Validate() error {
	var problems []error
	if !currencyPattern.MatchString(c.Currency) {
		problems = append(problems, errors.New("CATALOG_CURRENCY must be an ISO 4217 code such as USD"))
	}
	if c.GuestTTL < time.Second {
		problems = append(problems, errors.New("CART_GUEST_TTL must be at least 1s"))
	}
	if c.SweepInterval < 10*time.Millisecond {
		problems = append(problems, errors.New("CART_SWEEP_INTERVAL must be at least 10ms"))
	}
	if c.CatalogTimeout < time.Millisecond {
		problems = append(problems, errors.New("CART_CATALOG_TIMEOUT must be at least 1ms"))
	}
	if c.CatalogBreakerFailures < 1 {
		problems = append(problems, errors.New("CART_CATALOG_BREAKER_FAILURES must be at least 1"))
	}
	if c.CatalogBreakerOpenFor < time.Millisecond {
		problems = append(problems, errors.New("CART_CATALOG_BREAKER_OPEN_FOR must be at least 1ms"))
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
var Schema = sqldb.Schema{Name: "cart", FS: must(fs.Sub(migrations, "migrations"))}

// Unit describes the cart service to the runtime. It calls the catalog at
// Deps.Peers["catalog"].
func Unit(cfg Config) app.Unit {
	return app.Unit{Name: "cart", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(d.DB, cfg, d.Peers["catalog"], d.ServiceToken, d.Logger, d.Registry)
			if err != nil {
				return nil, err
			}
			return svc.appService(d.Bus), nil
		}}
}

// New builds the service; catalogURL is the catalog's internal base URL.
func New(db *sqldb.DB, cfg Config, catalogURL, serviceToken string, log *slog.Logger,
	reg prometheus.Registerer) (*Service, error) {
	if catalogURL == "" {
		return nil, errors.New("cart: the catalog's internal URL is not set (CATALOG_INTERNAL_URL)")
	}
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	c := newCatalog(catalogConfig{URL: catalogURL, Timeout: cfg.CatalogTimeout,
		BreakerFailures: uint32(cfg.CatalogBreakerFailures), BreakerOpenFor: cfg.CatalogBreakerOpenFor},
		serviceToken, log, reg)
	return &Service{db: db, catalog: c, summaries: newSummaries(summaryEntries), carts: newReadCache(db),
		currency: cfg.Currency, guestTTL: cfg.GuestTTL, log: log, now: now, sweepEvery: cfg.SweepInterval}, nil
}

// appService is the service as the runtime runs it. The catalog is not a
// readiness check: without it the cart still serves reads (stale) and every
// change but adding a product, so taking the cart out of the load balancer
// would only make things worse. Its breaker shows in the metrics
// (http_client_breaker_state{peer="catalog"}) and the logs.
func (s *Service) appService(b *bus.Bus) *app.Service {
	return &app.Service{
		Public:    NewHandler(s),
		Paths:     []string{"/api/v1/cart", "/api/v1/cart/", "/openapi/cart.yaml"},
		Internal:  InternalHandler(s),
		Consumers: []bus.ConsumerConfig{s.orderPlacedConsumer()},
		Workers: []app.Worker{{Name: "guest-cart-sweeper", Run: s.sweeper(s.sweepEvery)},
			{Name: "catalog-changes", Run: s.followCatalog(b)}},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
