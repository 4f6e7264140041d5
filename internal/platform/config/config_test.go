package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type dbConfig struct {
	URL string `env:"DATABASE_URL" required:"true" secret:"url"`
}

type testConfig struct {
	dbConfig
	Addr     string        `env:"ADDR" default:"127.0.0.1:8080"`
	Window   time.Duration `env:"WINDOW" default:"30m"`
	Demo     bool          `env:"DEMO" default:"true"`
	Workers  int           `env:"WORKERS" default:"4"`
	Key      string        `env:"API_KEY" secret:"true"`
	Hosts    []string      `env:"HOSTS"`
	Level    slog.Level    `env:"LEVEL" default:"info"`
	internal string
}

func (c *testConfig) Validate() error {
	if c.Workers < 1 {
		return errors.New("WORKERS must be at least 1")
	}
	return nil
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaultsAndValues(t *testing.T) {
	var cfg testConfig
	err := LoadFrom(env(map[string]string{
		"DATABASE_URL": "postgres://u:pw@db/x", "WINDOW": "90s", "DEMO": "false",
		"HOSTS": "a, b,,c", "LEVEL": "debug",
	}), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := testConfig{dbConfig: dbConfig{URL: "postgres://u:pw@db/x"}, Addr: "127.0.0.1:8080",
		Window: 90 * time.Second, Demo: false, Workers: 4, Hosts: []string{"a", "b", "c"},
		Level: slog.LevelDebug}
	if got := cfg; got.URL != want.URL || got.Addr != want.Addr || got.Window != want.Window ||
		got.Demo != want.Demo || got.Workers != want.Workers ||
		strings.Join(got.Hosts, "|") != "a|b|c" || got.Level != want.Level {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // substrings of the error
		not  string   // must not appear
	}{
		{"missing required", map[string]string{}, []string{"DATABASE_URL is required"}, ""},
		{"bad duration", map[string]string{"DATABASE_URL": "x", "WINDOW": "soon"},
			[]string{`WINDOW="soon"`, "duration"}, ""},
		{"bad bool and int together", map[string]string{"DATABASE_URL": "x", "DEMO": "yes please",
			"WORKERS": "many"}, []string{"DEMO=", "WORKERS="}, ""},
		{"validate", map[string]string{"DATABASE_URL": "x", "WORKERS": "0"},
			[]string{"WORKERS must be at least 1"}, ""},
		{"bad level", map[string]string{"DATABASE_URL": "x", "LEVEL": "loud"}, []string{"LEVEL="}, ""},
		{"secret not echoed", map[string]string{"DATABASE_URL": "postgres://u:hunter2@db/x",
			"WORKERS": "x"}, []string{"WORKERS="}, "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg testConfig
			err := LoadFrom(env(tt.env), &cfg)
			if err == nil {
				t.Fatal("got nil error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("error %q reveals %q", err, tt.not)
			}
		})
	}
}

func TestAttrsMaskSecrets(t *testing.T) {
	cfg := testConfig{dbConfig: dbConfig{URL: "postgres://app:hunter2@db:5432/x?password=p2"},
		Key: "sk_live_123", Addr: "a"}
	got := map[string]string{}
	for _, a := range Attrs(&cfg) {
		got[a.Key] = a.Value.String()
	}
	for k, v := range got {
		if strings.Contains(v, "hunter2") || strings.Contains(v, "sk_live") || strings.Contains(v, "p2") {
			t.Errorf("%s=%q leaks a secret", k, v)
		}
	}
	if got["API_KEY"] != "*****" {
		t.Errorf("API_KEY = %q, want masked", got["API_KEY"])
	}
	if !strings.HasPrefix(got["DATABASE_URL"], "postgres://app:") || !strings.Contains(got["DATABASE_URL"], "db:5432") {
		t.Errorf("DATABASE_URL = %q, want user and host kept", got["DATABASE_URL"])
	}
	if got["ADDR"] != "a" {
		t.Errorf("ADDR = %q", got["ADDR"])
	}
}
