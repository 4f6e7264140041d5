package notifications

import (
	"cmp"
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/mail"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/backoff"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/effect"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/sqldb"
)

// Config is the notifications service's own configuration.
type Config struct {
	// ShopName signs every message.
	ShopName string `env:"NOTIFICATIONS_SHOP_NAME" default:"Emporium"`
	// EmailFrom is the emails' From: an address, with a display name or not.
	EmailFrom string `env:"NOTIFICATIONS_EMAIL_FROM" default:"Emporium <no-reply@emporium.example>"`
	// SMTPURL is the SMTP server (see NewSMTPMailer); without it emails go to
	// the outbox directory.
	SMTPURL string `env:"SMTP_URL" secret:"url"`
	// Twilio, for SMS: the account SID, its auth token or an API key and
	// secret, and a sending number or messaging service. Without an account
	// SID, SMS go to the outbox directory.
	TwilioAccountSID          string `env:"TWILIO_ACCOUNT_SID"`
	TwilioAuthToken           string `env:"TWILIO_AUTH_TOKEN" secret:"true"`
	TwilioAPIKey              string `env:"TWILIO_API_KEY"`
	TwilioAPISecret           string `env:"TWILIO_API_SECRET" secret:"true"`
	TwilioFrom                string `env:"TWILIO_FROM"`
	TwilioMessagingServiceSID string `env:"TWILIO_MESSAGING_SERVICE_SID"`
	TwilioAPIBase             string `env:"TWILIO_API_BASE" default:"https://api.twilio.com"`
	// OutboxDir is where messages go without a provider: .eml files and
	// sms.jsonl; DefaultOutboxDir when empty. The all-in-one puts it in its
	// data directory.
	OutboxDir string `env:"NOTIFICATIONS_OUTBOX_DIR"`
	// SendTimeout bounds one send: the whole SMTP conversation, one request
	// to Twilio.
	SendTimeout time.Duration `env:"NOTIFICATIONS_SEND_TIMEOUT" default:"30s"`
	// MaxAttempts is how many times a message is tried before its delivery
	// fails; the attempts are spaced from RetryInitial, doubling up to
	// RetryMax, with 20% jitter (with the defaults, five tries over about
	// fifteen seconds).
	MaxAttempts  int           `env:"NOTIFICATIONS_MAX_ATTEMPTS" default:"5"`
	RetryInitial time.Duration `env:"NOTIFICATIONS_RETRY_INITIAL" default:"1s"`
	RetryMax     time.Duration `env:"NOTIFICATIONS_RETRY_MAX" default:"5m"`
	// Quota is how many messages (emails and SMS) a customer is sent at most
	// within QuotaWindow; the ones past it are not sent.
	Quota       int           `env:"NOTIFICATIONS_QUOTA" default:"20"`
	QuotaWindow time.Duration `env:"NOTIFICATIONS_QUOTA_WINDOW" default:"1h"`
	// ContactWait is how long an event waits for its customer's contact
	// before its message is given up.
	ContactWait time.Duration `env:"NOTIFICATIONS_CONTACT_WAIT" default:"24h"`
	// MaxEventAge is the oldest event that is still written about: a
	// service that starts for the first time on streams that hold weeks of
	// events, or after a long outage, does not mail customers about old
	// registrations and orders. Contacts are kept from events of any age.
	MaxEventAge time.Duration `env:"NOTIFICATIONS_MAX_EVENT_AGE" default:"72h"`

	// Tests set these; the environment cannot.
	now          func() time.Time // the clock; time.Now when nil
	pollInterval time.Duration    // how often the effect runners look for work; 1s when 0
	sweepEvery   time.Duration    // how often held events are swept; 10s when 0
	smtpTLS      *tls.Config      // trusted by the SMTP mailer instead of the system roots
}

// Validate checks what the types alone cannot.
func (c *Config) Validate() error {
	var problems []error
	if _, err := mail.ParseAddress(c.EmailFrom); err != nil {
		problems = append(problems, fmt.Errorf("NOTIFICATIONS_EMAIL_FROM: %w", err))
	}
	if c.SMTPURL != "" {
		if _, err := NewSMTPMailer(c.SMTPURL, c.EmailFrom, time.Second, nil); err != nil {
			problems = append(problems, err)
		}
	}
	if c.TwilioAccountSID != "" {
		if c.TwilioAuthToken == "" && (c.TwilioAPIKey == "" || c.TwilioAPISecret == "") {
			problems = append(problems, errors.New("TWILIO_ACCOUNT_SID needs TWILIO_AUTH_TOKEN, "+
				"or TWILIO_API_KEY and TWILIO_API_SECRET"))
		}
		if c.TwilioFrom == "" && c.TwilioMessagingServiceSID == "" {
			problems = append(problems, errors.New("TWILIO_ACCOUNT_SID needs TWILIO_FROM or "+
				"TWILIO_MESSAGING_SERVICE_SID"))
		}
		if _, err := NewTwilioTexter(c.twilio()); err != nil {
			problems = append(problems, err)
		}
	}
	if c.SendTimeout < time.Millisecond {
		problems = append(problems, errors.New("NOTIFICATIONS_SEND_TIMEOUT must be at least 1ms"))
	}
	if c.MaxAttempts < 1 {
		problems = append(problems, errors.New("NOTIFICATIONS_MAX_ATTEMPTS must be at least 1"))
	}
	if c.RetryInitial < time.Millisecond || c.RetryMax < c.RetryInitial {
		problems = append(problems, errors.New("NOTIFICATIONS_RETRY_INITIAL must be at least 1ms "+
			"and NOTIFICATIONS_RETRY_MAX at least as long"))
	}
	if c.Quota < 1 || c.QuotaWindow <= 0 {
		problems = append(problems, errors.New("NOTIFICATIONS_QUOTA must be at least 1 and "+
			"NOTIFICATIONS_QUOTA_WINDOW positive"))
	}
	if c.ContactWait <= 0 {
		problems = append(problems, errors.New("NOTIFICATIONS_CONTACT_WAIT must be positive"))
	}
	if c.MaxEventAge <= c.ContactWait {
		problems = append(problems, errors.New("NOTIFICATIONS_MAX_EVENT_AGE must be longer than "+
			"NOTIFICATIONS_CONTACT_WAIT"))
	}
	return errors.Join(problems...)
}

func (c *Config) twilio() TwilioConfig {
	return TwilioConfig{AccountSID: c.TwilioAccountSID, AuthToken: c.TwilioAuthToken,
		APIKey: c.TwilioAPIKey, APISecret: c.TwilioAPISecret, From: c.TwilioFrom,
		MessagingServiceSID: c.TwilioMessagingServiceSID, BaseURL: c.TwilioAPIBase,
		Timeout: c.SendTimeout}
}

// DefaultOutboxDir is the outbox directory when Config.OutboxDir is empty,
// relative to the working directory.
const DefaultOutboxDir = "notifications-outbox"

//go:embed migrations/*.sql
var migrations embed.FS

// OpenAPI is the service's OpenAPI 3.1 document.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Schema is the service's database schema.
var Schema = sqldb.Schema{Name: "notifications", FS: must(fs.Sub(migrations, "migrations"))}

// Unit describes the notifications service to the runtime.
func Unit(cfg Config) app.Unit {
	return app.Unit{Name: "notifications", Schemas: []sqldb.Schema{effect.Schema, Schema},
		Build: func(ctx context.Context, d app.Deps) (*app.Service, error) {
			svc, err := New(d.DB, d.Bus, cfg, d.Logger)
			if err != nil {
				return nil, err
			}
			return svc.appService(d), nil
		}}
}

// New builds the service with its mailer and texter: SMTP and Twilio when
// configured, the outbox directory for whichever is not.
func New(db *sqldb.DB, b *bus.Bus, cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clock := cfg.now
	if clock == nil {
		clock = time.Now
	}
	if cfg.sweepEvery <= 0 {
		cfg.sweepEvery = 10 * time.Second
	}
	log = observability.OrDefault(log)
	s := &Service{db: db, bus: b, cfg: cfg, log: log,
		now: func() time.Time { return sqldb.Time(clock()) }}
	var files *FileOutbox
	if cfg.SMTPURL == "" || cfg.TwilioAccountSID == "" {
		var err error
		if files, err = NewFileOutbox(cmp.Or(cfg.OutboxDir, DefaultOutboxDir),
			cfg.EmailFrom); err != nil {
			return nil, err
		}
		s.outboxDir = files.Dir()
	}
	if cfg.SMTPURL != "" {
		m, err := NewSMTPMailer(cfg.SMTPURL, cfg.EmailFrom, cfg.SendTimeout, cfg.smtpTLS)
		if err != nil {
			return nil, err
		}
		s.mailer = m
	} else {
		s.mailer = files
		log.Info("SMTP_URL is not set: emails are written to the outbox directory",
			slog.String("dir", files.Dir()))
	}
	if cfg.TwilioAccountSID != "" {
		t, err := NewTwilioTexter(cfg.twilio())
		if err != nil {
			return nil, err
		}
		s.texter = t
	} else {
		s.texter = files
		log.Info("TWILIO_ACCOUNT_SID is not set: SMS are written to the outbox directory",
			slog.String("dir", files.Dir()))
	}
	return s, nil
}

// appService is the service as the runtime runs it: its routes, its three
// consumers, and the workers that send (effect runners) and sweep.
func (s *Service) appService(d app.Deps) *app.Service {
	sends := effect.NewRunner(s.db, effect.RunnerConfig{
		Handlers: map[string]effect.Handler{ChannelEmail: s.deliver, ChannelSMS: s.deliver},
		// deliver gives up after MaxAttempts itself; the runner's spare
		// attempts only record a failure whose recording failed.
		MaxAttempts: s.cfg.MaxAttempts + 5,
		Backoff: backoff.Policy{Initial: s.cfg.RetryInitial, Max: s.cfg.RetryMax,
			Jitter: 0.2},
		// Time for the send and for recording its outcome.
		Timeout:      s.cfg.SendTimeout + bookkeepingTimeout,
		PollInterval: s.cfg.pollInterval,
		Logger:       s.log, Registerer: d.Registry, Now: s.cfg.now,
	})
	deadLetters := effect.NewRunner(s.db, effect.RunnerConfig{
		Handlers:     map[string]effect.Handler{kindDeadLetter: s.publishDeadLetter},
		PollInterval: s.cfg.pollInterval,
		Logger:       s.log, Registerer: d.Registry, Now: s.cfg.now,
	})
	return &app.Service{
		Public: NewHandler(s),
		Paths: []string{"/api/v1/users/me/notifications", "/api/v1/admin/notifications",
			"/openapi/notifications.yaml"},
		Consumers: s.consumers(),
		Workers: []app.Worker{
			{Name: "notifications-send", Run: sends.Run},
			{Name: "notifications-deadletters", Run: deadLetters.Run},
			{Name: "notifications-held", Run: s.sweepHeld},
		},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
