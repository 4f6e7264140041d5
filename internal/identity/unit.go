package identity

import (
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/periodic"
	"emporium/internal/platform/ratelimit"
	"emporium/internal/platform/redisconn"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/web"
)

// Config is the identity service's own configuration.
type Config struct {
	AccessTokenTTL   time.Duration `env:"IDENTITY_ACCESS_TOKEN_TTL" default:"15m"`
	RefreshTTL       time.Duration `env:"IDENTITY_REFRESH_TOKEN_TTL" default:"720h"`
	RefreshIdleTTL   time.Duration `env:"IDENTITY_REFRESH_IDLE_TTL" default:"168h"`
	KeyEncryptionKey string        `env:"IDENTITY_KEY_ENCRYPTION_KEY" secret:"true"`
	KeyRotation      time.Duration `env:"IDENTITY_KEY_ROTATION" default:"720h"`

	LoginFailuresPerAccount int           `env:"IDENTITY_LOGIN_FAILURES_PER_ACCOUNT" default:"10"`
	LoginFailuresPerAddress int           `env:"IDENTITY_LOGIN_FAILURES_PER_ADDRESS" default:"100"`
	LoginFailureWindow      time.Duration `env:"IDENTITY_LOGIN_FAILURE_WINDOW" default:"15m"`
	RegistrationsPerAddress int           `env:"IDENTITY_REGISTRATIONS_PER_ADDRESS" default:"300"`
	RegistrationWindow      time.Duration `env:"IDENTITY_REGISTRATION_WINDOW" default:"1h"`
	TrustedProxies          string        `env:"TRUSTED_PROXIES" default:"127.0.0.0/8,::1/128"`

	Argon2MemoryKiB  uint32 `env:"IDENTITY_ARGON2_MEMORY_KIB" default:"19456"`
	Argon2Iterations uint32 `env:"IDENTITY_ARGON2_ITERATIONS" default:"2"`

	AdminEmail    string `env:"EMPORIUM_ADMIN_EMAIL"`
	AdminPassword string `env:"EMPORIUM_ADMIN_PASSWORD" secret:"true"`
	RedisURL      string `env:"REDIS_URL" secret:"url"`

	// Tests set these; the environment cannot.
	now      func() time.Time // the clock; time.Now when nil
	weakHash bool             // argon2id below OWASP's floor, so tests run fast
	// redisTimeout bounds each call to Redis before counting falls back to
	// this process (ratelimit.FallbackOptions.Timeout; its default when 0).
	// Tests about counting raise it so that a loaded machine does not turn
	// them into tests of the fallback.
	redisTimeout time.Duration
}

// Validate checks what the types alone cannot.
func (c *Config) Validate() error {
	var problems []error
	if c.KeyEncryptionKey != "" {
		if _, err := c.kek(); err != nil {
			problems = append(problems, err)
		}
	}
	if _, err := web.ParseTrustedProxies(c.TrustedProxies); err != nil {
		problems = append(problems, fmt.Errorf("TRUSTED_PROXIES: %w", err))
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		problems = append(problems, errors.New("EMPORIUM_ADMIN_EMAIL and EMPORIUM_ADMIN_PASSWORD go together"))
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > auth.MaxTokenLifetime {
		problems = append(problems, errors.New("IDENTITY_ACCESS_TOKEN_TTL must be from 1m to 1h"))
	}
	if c.Argon2MemoryKiB > MaxArgon2MemoryKiB {
		problems = append(problems, fmt.Errorf("IDENTITY_ARGON2_MEMORY_KIB must be at most %d (1 GiB)",
			MaxArgon2MemoryKiB))
	}
	if c.RefreshIdleTTL > c.RefreshTTL {
		problems = append(problems, errors.New("IDENTITY_REFRESH_IDLE_TTL must not exceed IDENTITY_REFRESH_TOKEN_TTL"))
	}
	return errors.Join(problems...)
}

// kek decodes the key-encryption key: 32 bytes, base64 (standard or URL).
func (c *Config) kek() ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(c.KeyEncryptionKey); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("IDENTITY_KEY_ENCRYPTION_KEY must be 32 bytes in base64 (openssl rand -base64 32)")
}

//go:embed migrations/*.sql
var migrations embed.FS

// OpenAPI is the service's OpenAPI 3.1 document.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Schema is the service's database schema.
var Schema = sqldb.Schema{Name: "identity", FS: must(fs.Sub(migrations, "migrations"))}

// Stream is where the identity service's events go.
var Stream = bus.StreamConfig{Name: app.IdentityStream, Subjects: []string{"identity.>"}, MaxAge: 30 * 24 * time.Hour}

// Unit describes the identity service to the runtime.
func Unit(cfg Config) app.Unit {
	return app.Unit{Name: "identity", Schemas: []sqldb.Schema{Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(ctx, d.DB, cfg, d.Logger)
			if err != nil {
				return nil, err
			}
			return svc.appService(), nil
		}}
}

// appService is the service as the runtime runs it.
func (s *Service) appService() *app.Service {
	proxies, _ := web.ParseTrustedProxies(s.cfg.TrustedProxies)
	return &app.Service{
		Public: NewHandler(s, proxies),
		Paths: []string{"/api/v1/auth/", "/api/v1/users/", "/api/v1/admin/users",
			"/api/v1/admin/users/", "/.well-known/jwks.json", "/openapi/identity.yaml"},
		Stream: &Stream,
		Workers: []app.Worker{
			{Name: "identity-keys", Run: s.maintainKeys},
			{Name: "identity-sessions", Run: s.sweepSessions},
		},
	}
}

// New builds the service: its hasher, its keys (the first one is made on a new
// database) and its throttle store; brings emails stored before their normal
// form into it (normalizeStoredEmails), and creates or promotes the
// configured first admin while the shop has no admin.
func New(ctx context.Context, db *sqldb.DB, cfg Config, log *slog.Logger) (*Service, error) {
	clock := cfg.now
	if clock == nil {
		clock = time.Now
	}
	// Every time the service stores or answers is read from this clock, so it
	// is answered as it is stored (sqldb.Time).
	now := func() time.Time { return sqldb.Time(clock()) }
	params := Argon2Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Iterations, Threads: 1}
	hasher, err := newHasher(params, cfg.weakHash)
	if err != nil {
		return nil, err
	}
	if cfg.KeyEncryptionKey == "" {
		return nil, errors.New("IDENTITY_KEY_ENCRYPTION_KEY is required")
	}
	kek, err := cfg.kek()
	if err != nil {
		return nil, err
	}
	keys, err := newKeyring(db, kek, cfg.AccessTokenTTL, now)
	if err != nil {
		return nil, err
	}
	if err := keys.Ensure(ctx); err != nil {
		return nil, err
	}
	var limits ratelimit.Store = ratelimit.NewMemory(ratelimit.MemoryOptions{})
	if cfg.RedisURL != "" {
		client, err := redisconn.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		// Shared counts across replicas; each replica's own counts while Redis is down.
		limits = ratelimit.NewFallback(ratelimit.NewRedis(client, "emporium:identity:"),
			ratelimit.FallbackOptions{Logger: log, Timeout: cfg.redisTimeout})
	}
	s := &Service{db: db, hasher: hasher, keys: keys, limits: limits, cfg: cfg, log: log, now: now,
		logKey: logKeyFrom(kek)}
	if err := s.normalizeStoredEmails(ctx); err != nil {
		return nil, err
	}
	if cfg.AdminEmail != "" {
		if _, err := s.bootstrapAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword); err != nil {
			return nil, fmt.Errorf("EMPORIUM_ADMIN_EMAIL: %w", err)
		}
	}
	return s, nil
}

// maintainKeys reloads the keys every minute, so every replica sees a new
// key, and publishes the next key ahead of time when the current one is due
// for rotation.
func (s *Service) maintainKeys(ctx context.Context) error {
	return periodic.Every(time.Minute, s.maintainKeysOnce)(ctx)
}

// maintainKeysOnce is one round of maintainKeys.
func (s *Service) maintainKeysOnce(ctx context.Context) error {
	if err := s.keys.Load(ctx); err != nil {
		return err
	}
	if from, ok := s.keys.newestSignsFrom(); ok && s.now().Sub(from) > s.cfg.KeyRotation {
		if err := s.keys.Rotate(ctx, keyPublishAhead); err != nil {
			return err
		}
		s.audit(ctx, "signing_key.rotated")
	}
	return nil
}

// keyPublishAhead is how long a new key is in the JWKS before it signs: more
// than verifiers' JWKS refresh interval, so none meets an unknown kid.
const keyPublishAhead = 10 * time.Minute

// sweepSessions deletes sessions whose absolute lifetime ended a day ago.
func (s *Service) sweepSessions(ctx context.Context) error {
	return periodic.NowAndEvery(time.Hour, s.sweepExpiredSessions)(ctx)
}

// sweepExpiredSessions is one sweep, in chunks.
func (s *Service) sweepExpiredSessions(ctx context.Context) error {
	// UTC (s.now), as the stored times are: SQLite compares them as text.
	cutoff := s.now().Add(-24 * time.Hour)
	for {
		n, err := deleteExpiredSessions(ctx, s.db, cutoff)
		if err != nil {
			return err
		}
		if n > 0 {
			s.log.InfoContext(ctx, "deleted expired sessions", slog.Int64("families", n))
		}
		if n < sessionSweepChunk {
			return nil
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
