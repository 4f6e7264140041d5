package config

import (
	"strings"
	"testing"
)

// TestAttrsMaskEveryURLOfAList covers NATS_URL-style lists: every server's
// password, not only the first one's, and NATS tokens.
func TestAttrsMaskEveryURLOfAList(t *testing.T) {
	t.Parallel()
	var cfg struct {
		NATS string `env:"NATS_URL" secret:"url"`
	}
	tests := []struct {
		in, want string
	}{
		{"nats://u:pw1@h1:4222,nats://u:pw2@h2:4222",
			"nats://u:*****@h1:4222,nats://u:*****@h2:4222"},
		{"nats://h1:4222,nats://tok3n@h2:4222", "nats://h1:4222,nats://*****@h2:4222"},
		{"nats://h1:4222,nats://u:pw2@h2:4222?token=pw3",
			"nats://h1:4222,nats://u:*****@h2:4222?token=*****"},
	}
	for _, tt := range tests {
		cfg.NATS = tt.in
		got := Attrs(&cfg)[0].Value.String()
		if got != tt.want {
			t.Errorf("NATS_URL %q shown as %q, want %q", tt.in, got, tt.want)
		}
		for _, secret := range []string{"pw1", "pw2", "pw3", "tok3n"} {
			if strings.Contains(got, secret) {
				t.Errorf("NATS_URL %q shown as %q, which leaks %q", tt.in, got, secret)
			}
		}
	}
}
