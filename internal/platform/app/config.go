package app

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Base is the configuration every service's own command reads (config.Load).
type Base struct {
	PublicAddr   string `env:"PUBLIC_ADDR" default:":8080"`
	InternalAddr string `env:"INTERNAL_ADDR" default:":9090"`
	DatabaseURL  string `env:"DATABASE_URL" required:"true" secret:"url"`
	NATSURL      string `env:"NATS_URL" default:"nats://127.0.0.1:4222" secret:"url"`
	ServiceToken string `env:"EMPORIUM_SERVICE_TOKEN" required:"true" secret:"true"`
	JWKSURL      string `env:"IDENTITY_JWKS_URL" default:"http://identity:8080/.well-known/jwks.json"`
	DatabasePool
	// ShutdownDrain is how long a stopping service goes on serving with
	// /readyz answering 503, long enough for Nginx and Kubernetes to stop
	// sending it requests before its listeners close.
	ShutdownDrain time.Duration `env:"SHUTDOWN_DRAIN" default:"5s"`
	Streams       Streams
	Peers
	Observability
}

// DatabasePool sizes and bounds the PostgreSQL pool of DATABASE_URL; SQLite
// ignores it. See sqldb.PoolConfig.
type DatabasePool struct {
	MaxConns         int           `env:"DATABASE_MAX_CONNS" default:"25"`
	ConnMaxLifetime  time.Duration `env:"DATABASE_CONN_MAX_LIFETIME" default:"30m"`
	StatementTimeout time.Duration `env:"DATABASE_STATEMENT_TIMEOUT" default:"30s"`
	IdleInTxTimeout  time.Duration `env:"DATABASE_IDLE_IN_TX_TIMEOUT" default:"1m"`
}

// Validate checks that the pool has room and every limit is positive.
func (p *DatabasePool) Validate() error {
	var problems []error
	if p.MaxConns < 1 {
		problems = append(problems, errors.New("DATABASE_MAX_CONNS must be at least 1"))
	}
	for _, limit := range []struct {
		name string
		d    time.Duration
	}{
		{"DATABASE_CONN_MAX_LIFETIME", p.ConnMaxLifetime},
		{"DATABASE_STATEMENT_TIMEOUT", p.StatementTimeout},
		{"DATABASE_IDLE_IN_TX_TIMEOUT", p.IdleInTxTimeout},
	} {
		if limit.d < time.Millisecond {
			problems = append(problems, fmt.Errorf("%s must be at least 1ms", limit.name))
		}
	}
	return errors.Join(problems...)
}

// Streams are an operator's explicit settings for the streams a service
// ensures at start: its own, and DEADLETTER's replicas. Each one set is
// applied at every start, over what the stream has; each one unset leaves a
// stream that exists as its operator left it, and gives a new one the
// service's default (1 replica; the service's own age limit; no size limit).
type Streams struct {
	Replicas int           `env:"NATS_STREAM_REPLICAS"`
	MaxAge   time.Duration `env:"NATS_STREAM_MAX_AGE"`
	MaxBytes int64         `env:"NATS_STREAM_MAX_BYTES"`
}

// Validate checks the ranges JetStream accepts.
func (s *Streams) Validate() error {
	var problems []error
	if s.Replicas < 0 || s.Replicas > 5 {
		problems = append(problems, errors.New("NATS_STREAM_REPLICAS must be 1 to 5"))
	}
	if s.MaxAge < 0 {
		problems = append(problems, errors.New("NATS_STREAM_MAX_AGE must not be negative"))
	}
	if s.MaxBytes < 0 {
		problems = append(problems, errors.New("NATS_STREAM_MAX_BYTES must not be negative"))
	}
	return errors.Join(problems...)
}

// Pool returns the pool's configuration for sqldb.OpenPool.
func (p DatabasePool) Pool() sqldb.PoolConfig {
	return sqldb.PoolConfig{MaxConns: p.MaxConns, ConnMaxLifetime: p.ConnMaxLifetime,
		StatementTimeout: p.StatementTimeout, IdleInTxTimeout: p.IdleInTxTimeout}
}

func (s Streams) limits() bus.StreamLimits {
	return bus.StreamLimits{Replicas: s.Replicas, MaxAge: s.MaxAge, MaxBytes: s.MaxBytes}
}

// Peers are the internal base URLs of the services a service may call.
type Peers struct {
	Identity string `env:"IDENTITY_INTERNAL_URL" default:"http://identity:9090"`
	Catalog  string `env:"CATALOG_INTERNAL_URL" default:"http://catalog:9090"`
	Cart     string `env:"CART_INTERNAL_URL" default:"http://cart:9090"`
	Orders   string `env:"ORDERS_INTERNAL_URL" default:"http://orders:9090"`
	Payments string `env:"PAYMENTS_INTERNAL_URL" default:"http://payments:9090"`
}

// Map returns the peers by service name.
func (p Peers) Map() map[string]string {
	return map[string]string{"identity": p.Identity, "catalog": p.Catalog, "cart": p.Cart,
		"orders": p.Orders, "payments": p.Payments}
}

// Observability is the logging, tracing and shutdown configuration shared by
// the services' commands and the all-in-one.
type Observability struct {
	LogLevel        slog.Level    `env:"LOG_LEVEL" default:"info"`
	OTLPEndpoint    string        `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"15s"`
	// AccessReads thins out the access lines of successful reads: all,
	// sample (one line in web.SampleRate) or none.
	AccessReads web.AccessReads `env:"LOG_ACCESS_READS" default:"all"`
}

// Validate checks what the types alone cannot.
func (b *Base) Validate() error {
	var problems []error
	if !strings.HasPrefix(b.DatabaseURL, "postgres://") && !strings.HasPrefix(b.DatabaseURL, "postgresql://") &&
		!strings.HasPrefix(b.DatabaseURL, "sqlite:") {
		problems = append(problems, errors.New("DATABASE_URL must be a postgres:// or sqlite: URL"))
	}
	if err := auth.ValidateServiceSecret(b.ServiceToken); err != nil {
		problems = append(problems, fmt.Errorf("EMPORIUM_SERVICE_TOKEN: %w", err))
	}
	return errors.Join(problems...)
}

// AllInOne is the configuration of cmd/emporium, the whole shop in one process.
type AllInOne struct {
	Addr         string `env:"EMPORIUM_ADDR" default:"127.0.0.1:8080"`
	InternalAddr string `env:"EMPORIUM_INTERNAL_ADDR" default:"127.0.0.1:8081"`
	DataDir      string `env:"EMPORIUM_DATA_DIR" default:"./data"`
	// ShutdownDrain is Base.ShutdownDrain for the front door. Shorter: the
	// all-in-one mostly runs alone, where a drain only delays Ctrl-C.
	ShutdownDrain time.Duration `env:"SHUTDOWN_DRAIN" default:"1s"`
	Observability
}
