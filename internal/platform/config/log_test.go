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

// TestAttrsNameEachVariableOnce: two services' configurations that both read
// one variable log it once (a JSON object with a repeated name is ambiguous).
func TestAttrsNameEachVariableOnce(t *testing.T) {
	t.Parallel()
	type catalog struct {
		Redis string `env:"REDIS_URL"`
	}
	type cart struct {
		Redis string `env:"REDIS_URL"`
		TTL   string `env:"CART_TTL"`
	}
	var cfg struct {
		Catalog catalog
		Cart    cart
	}
	cfg.Catalog.Redis, cfg.Cart.Redis, cfg.Cart.TTL = "redis://r:6379", "redis://r:6379", "1h"
	var names []string
	for _, a := range Attrs(&cfg) {
		names = append(names, a.Key)
	}
	if got, want := strings.Join(names, ","), "REDIS_URL,CART_TTL"; got != want {
		t.Errorf("logged %s, want %s", got, want)
	}
}
