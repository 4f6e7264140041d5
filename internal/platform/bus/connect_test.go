package bus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/bus"
	"emporium/internal/platform/errs"
)

// TestConnectErrorHidesCredentials dials URLs that cannot work and checks
// that the error, unwrapped all the way down, never shows a password or token.
func TestConnectErrorHidesCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		want      string // a redacted form the message must contain
	}{
		{"unparsable", "nats://app:hunter2@127.0.0.1:badport",
			"nats://app:*****@127.0.0.1:badport"},
		{"refused list", "nats://app:hunter2@127.0.0.1:1,nats://tok3n@127.0.0.1:2",
			"nats://app:*****@127.0.0.1:1,nats://*****@127.0.0.1:2"},
		{"secret parameter", "nats://127.0.0.1:1?token=hunter2", "token=*****"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			b, err := bus.Connect(ctx, tt.url, "redact-test", bus.Options{})
			if err == nil {
				b.Close()
				t.Fatalf("Connect(%q) = nil error", tt.url)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if k := errs.KindOf(err); k != errs.Unavailable {
				t.Errorf("kind = %v, want unavailable", k)
			}
			for e := error(err); e != nil; e = errors.Unwrap(e) {
				for _, secret := range []string{"hunter2", "tok3n"} {
					if strings.Contains(e.Error(), secret) {
						t.Errorf("error chain member %q shows %q", e, secret)
					}
				}
			}
		})
	}
}
