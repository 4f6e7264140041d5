package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/app/apptest"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/config"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// gadgets publishes to a stream of its own, created with a one-hour limit,
// and consumes from it (so it ensures DEADLETTER too).
func gadgets() app.Unit {
	return app.Unit{Name: "gadgets", Build: func(context.Context, app.Deps) (*app.Service, error) {
		return &app.Service{
			Stream: &bus.StreamConfig{Name: "GADGETS", Subjects: []string{"gadgets.>"},
				MaxAge: time.Hour},
			Consumers: []bus.ConsumerConfig{{Stream: "GADGETS", Durable: "gadgets",
				Handler: func(context.Context, event.Envelope) error { return nil }}},
		}, nil
	}}
}

// A service's start keeps what an operator raised on its stream, and applies
// what the configuration sets explicitly.
func TestServiceStartKeepsTheOperatorsStreamSettings(t *testing.T) {
	natsURL := apptest.NATS(t)
	iss := authtest.NewIssuer(t)
	base := app.Base{DatabaseURL: sqldbtest.SQLiteURL(t), NATSURL: natsURL,
		ServiceToken: auth.NewServiceSecret(), JWKSURL: iss.JWKSURL()}
	b, err := bus.Connect(t.Context(), natsURL, "operator", bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	stream := func() jetstream.StreamConfig {
		s, err := b.JetStream().Stream(t.Context(), "GADGETS")
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config
	}

	apptest.Serve(t, gadgets(), base, apptest.Listen(t)).Stop()
	operator := stream()
	if operator.MaxAge != time.Hour {
		t.Fatalf("created with max age %s, want the service's 1h", operator.MaxAge)
	}
	operator.MaxAge, operator.MaxBytes = 48*time.Hour, 1<<30
	if _, err := b.JetStream().UpdateStream(t.Context(), operator); err != nil {
		t.Fatal(err)
	}

	apptest.Serve(t, gadgets(), base, apptest.Listen(t)).Stop()
	if got := stream(); got.MaxAge != 48*time.Hour || got.MaxBytes != 1<<30 {
		t.Errorf("after a restart: max age %s, max bytes %d; want the operator's 48h, %d",
			got.MaxAge, got.MaxBytes, 1<<30)
	}

	env := map[string]string{"NATS_STREAM_MAX_BYTES": "2147483648", "DATABASE_URL": "sqlite:x",
		"EMPORIUM_SERVICE_TOKEN": base.ServiceToken}
	var configured app.Base
	if err := config.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		&configured); err != nil {
		t.Fatal(err)
	}
	base.Streams = configured.Streams
	apptest.Serve(t, gadgets(), base, apptest.Listen(t)).Stop()
	if got := stream(); got.MaxAge != 48*time.Hour || got.MaxBytes != 2<<30 {
		t.Errorf("with NATS_STREAM_MAX_BYTES set: max age %s, max bytes %d; want the "+
			"operator's 48h and the configured %d", got.MaxAge, got.MaxBytes, 2<<30)
	}
}

func TestStreamSettingsValidated(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite:x",
		"EMPORIUM_SERVICE_TOKEN": auth.NewServiceSecret(), "NATS_STREAM_REPLICAS": "7",
		"NATS_STREAM_MAX_AGE": "-1h"}
	var b app.Base
	err := config.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &b)
	for _, want := range []string{"NATS_STREAM_REPLICAS", "NATS_STREAM_MAX_AGE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want it to name %s", err, want)
		}
	}
}
