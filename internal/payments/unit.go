package payments

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/url"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/sqldb"
)

// Config is the payments service's own configuration.
//
// The provider is Stripe when STRIPE_SECRET_KEY is set and the sandbox
// otherwise. STRIPE_WEBHOOK_SECRET verifies POST /webhooks/stripe (for
// either provider: the sandbox's payments answer Stripe-shaped events too);
// without it every webhook request is refused. The secrets are masked in
// the logged configuration and never logged otherwise.
type Config struct {
	// Currency is the store's currency, that of every payment; keep it equal
	// to CATALOG_CURRENCY.
	Currency            string        `env:"PAYMENTS_CURRENCY" default:"USD"`
	StripeSecretKey     string        `env:"STRIPE_SECRET_KEY" secret:"true"`
	StripeWebhookSecret string        `env:"STRIPE_WEBHOOK_SECRET" secret:"true"`
	StripeAPIBase       string        `env:"STRIPE_API_BASE"`
	ReconcileInterval   time.Duration `env:"PAYMENTS_RECONCILE_INTERVAL" default:"30s"`
	ReconcileAfter      time.Duration `env:"PAYMENTS_RECONCILE_AFTER" default:"3m"`
	// SandboxFaults makes the sandbox fail on purpose, for fault-injection
	// tests only (ParseSandboxFaults); empty, the default, is no faults.
	SandboxFaults string `env:"PAYMENTS_SANDBOX_FAULTS"`

	now     func() time.Time // tests set the clock; time.Now when nil
	sandbox func(*sandbox)   // tests adjust the sandbox
	wrap    func(Provider) Provider
}

// Validate checks what the types alone cannot.
func (c *Config) Validate() error {
	var problems []error
	if !currencyPattern.MatchString(c.Currency) {
		problems = append(problems, errors.New("PAYMENTS_CURRENCY must be an ISO 4217 code such as USD"))
	}
	if c.StripeAPIBase != "" {
		if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			u.Host == "" {
			problems = append(problems, errors.New("STRIPE_API_BASE must be an http or https URL"))
		}
	}
	if c.ReconcileInterval < 10*time.Millisecond {
		problems = append(problems, errors.New("PAYMENTS_RECONCILE_INTERVAL must be at least 10ms"))
	}
	if c.ReconcileAfter < 0 {
		problems = append(problems, errors.New("PAYMENTS_RECONCILE_AFTER must not be negative"))
	}
	if _, err := ParseSandboxFaults(c.SandboxFaults); err != nil {
		problems = append(problems, err)
	}
	if c.SandboxFaults != "" && c.StripeSecretKey != "" {
		problems = append(problems, errors.New("PAYMENTS_SANDBOX_FAULTS is for the sandbox; unset it with Stripe"))
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
var Schema = sqldb.Schema{Name: "payments", FS: must(fs.Sub(migrations, "migrations"))}

// Stream is where the payments' events go.
var Stream = bus.StreamConfig{Name: event.PaymentsStream, Subjects: []string{"payments.>"},
	MaxAge: 7 * 24 * time.Hour}

// Unit describes the payments service to the runtime.
func Unit(cfg Config) app.Unit {
	return app.Unit{Name: "payments", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			return New(d.DB, cfg, d.Logger).appService(), nil
		}}
}

// New builds the service with its provider: Stripe when cfg has a secret
// key, else the sandbox.
func New(db *sqldb.DB, cfg Config, log *slog.Logger) *Service {
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	log = observability.OrDefault(log)
	s := &Service{db: db, currency: cfg.Currency, log: log, now: now,
		checkAfter: cfg.ReconcileAfter, reconcileEvery: cfg.ReconcileInterval}
	if cfg.StripeSecretKey != "" {
		s.provider = newStripe(cfg.StripeSecretKey, cfg.StripeWebhookSecret, cfg.StripeAPIBase, now)
	} else {
		faults, _ := ParseSandboxFaults(cfg.SandboxFaults) // Validate refused a bad one
		if faults != (SandboxFaults{}) {
			log.Warn("the payment sandbox injects faults (PAYMENTS_SANDBOX_FAULTS): for tests only",
				slog.String("faults", cfg.SandboxFaults))
		}
		sb := &sandbox{db: db, webhookSecret: cfg.StripeWebhookSecret, now: now, log: log,
			deliver: s.HandleEvent, faults: faults}
		if cfg.sandbox != nil {
			cfg.sandbox(sb)
		}
		s.provider = sb
	}
	if cfg.wrap != nil {
		s.provider = cfg.wrap(s.provider)
	}
	return s
}

// appService is the service as the runtime runs it.
func (s *Service) appService() *app.Service {
	return &app.Service{
		Public:   NewHandler(s),
		Paths:    []string{"/api/v1/payments/", "/webhooks/stripe", "/openapi/payments.yaml"},
		Internal: InternalHandler(s),
		Stream:   &Stream,
		Workers:  []app.Worker{{Name: "payment-reconciler", Run: s.reconciler(s.reconcileEvery)}},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
