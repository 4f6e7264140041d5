package catalog

import (
	"cmp"
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
	"emporium/internal/platform/bus"
	"emporium/internal/platform/cache"
	"emporium/internal/platform/redisconn"
	"emporium/internal/platform/sqldb"
)

// Config is the catalog service's own configuration.
type Config struct {
	Currency      string        `env:"CATALOG_CURRENCY" default:"USD"`
	SweepInterval time.Duration `env:"CATALOG_SWEEP_INTERVAL" default:"5s"`
	CacheTTL      time.Duration `env:"CATALOG_CACHE_TTL" default:"5m"`
	CacheEntries  int           `env:"CATALOG_CACHE_ENTRIES" default:"10000"`
	DemoData      bool          `env:"EMPORIUM_DEMO_DATA" default:"true"`
	RedisURL      string        `env:"REDIS_URL" secret:"url"`

	now        func() time.Time // tests set the clock; time.Now when nil
	sweepBatch int              // tests shrink the sweeper's page; sweepBatch when 0
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate checks what the types alone cannot.
func (c *Config) Validate() error {
	var problems []error
	if !currencyPattern.MatchString(c.Currency) {
		problems = append(problems, errors.New("CATALOG_CURRENCY must be an ISO 4217 code such as USD"))
	}
	if c.SweepInterval < 10*time.Millisecond {
		problems = append(problems, errors.New("CATALOG_SWEEP_INTERVAL must be at least 10ms"))
	}
	if c.CacheEntries < 1 {
		problems = append(problems, errors.New("CATALOG_CACHE_ENTRIES must be at least 1"))
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
var Schema = sqldb.Schema{Name: "catalog", FS: must(fs.Sub(migrations, "migrations"))}

// Stream is where the catalog's events go.
var Stream = bus.StreamConfig{Name: event.CatalogStream, Subjects: []string{"catalog.>"}, MaxAge: 7 * 24 * time.Hour}

// Unit describes the catalog service to the runtime. The demo catalog is
// loaded into an empty database when cfg.DemoData is set.
func Unit(cfg Config) app.Unit {
	return app.Unit{Name: "catalog", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(ctx, d.DB, cfg, d.Logger, d.Registry)
			if err != nil {
				return nil, err
			}
			if cfg.DemoData {
				if n, err := svc.LoadDemo(ctx); err != nil {
					return nil, fmt.Errorf("demo catalog: %w", err)
				} else if n > 0 {
					d.Logger.InfoContext(ctx, "loaded the demo catalog", slog.Int("products", n))
				}
			}
			return svc.appService(d.Bus), nil
		}}
}

// New builds the service and its read cache: Redis when cfg.RedisURL is set,
// in-process otherwise.
func New(ctx context.Context, db *sqldb.DB, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	var store cache.Store = cache.NewMemory(cache.MemoryOptions{MaxEntries: cfg.CacheEntries, Registerer: reg})
	shared := cfg.RedisURL != ""
	if shared {
		client, err := redisconn.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		store = cache.NewRedis(client, "emporium:", cache.RedisOptions{Logger: log, Registerer: reg})
	}
	s := &Service{db: db, currency: cfg.Currency, log: log, now: now}
	s.cache = &readCache{store: store, db: db, ttl: cfg.CacheTTL, log: log, now: now, sizes: newCategorySizes(now),
		answers: newAnswers(cfg.CacheEntries), shared: shared}
	s.sweepEvery, s.sweepBatch = cfg.SweepInterval, cmp.Or(cfg.sweepBatch, sweepBatch)
	return s, nil
}

// appService is the service as the runtime runs it.
func (s *Service) appService(b *bus.Bus) *app.Service {
	return &app.Service{
		Public: NewHandler(s),
		Paths: []string{"/api/v1/products", "/api/v1/products/", "/api/v1/categories",
			"/api/v1/categories/", "/openapi/catalog.yaml"},
		Internal: InternalHandler(s),
		Stream:   &Stream,
		Workers: []app.Worker{
			{Name: "reservation-sweeper", Run: s.sweeper(s.sweepEvery)},
			{Name: "cache-invalidation", Run: func(ctx context.Context) error {
				// Another replica's write: drop what this one cached about it.
				return b.Follow(ctx, bus.FollowConfig{Stream: Stream.Name, Subject: "catalog.*.updated",
					Logger: s.log, Handler: func(ctx context.Context, env event.Envelope) {
						var pc event.ProductChanged
						if env.Type == event.ProductUpdated && env.Decode(&pc) == nil {
							s.cache.invalidate(ctx, pc.ProductID)
						} else {
							s.cache.invalidate(ctx)
						}
					}})
			}},
		},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
