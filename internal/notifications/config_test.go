package notifications

import (
	"strings"
	"testing"

	"emporium/internal/platform/config"
)

// The defaults make a valid configuration, and each bad setting is refused
// naming its variable.
func TestConfig(t *testing.T) {
	load := func(env map[string]string) error {
		var cfg Config
		return config.LoadFrom(func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		}, &cfg)
	}
	if err := load(nil); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	twilio := map[string]string{"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "t0ken",
		"TWILIO_FROM": "+15005550006"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range twilio {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	valid := []map[string]string{
		{"SMTP_URL": "smtp://mail.example.com"},
		{"SMTP_URL": "smtp://user:pass@mail.example.com:2525?starttls=required&auth=login"},
		{"SMTP_URL": "smtps://mail.example.com"},
		{"SMTP_URL": "smtps://u:p@mail.example.com?auth=scram-sha-256"},
		{"SMTP_URL": "smtp://127.0.0.1:1025?starttls=none"},
		twilio,
		with(map[string]string{"TWILIO_FROM": "", "TWILIO_MESSAGING_SERVICE_SID": "MG1"}),
		with(map[string]string{"TWILIO_AUTH_TOKEN": "", "TWILIO_API_KEY": "SK1",
			"TWILIO_API_SECRET": "s"}),
	}
	for _, env := range valid {
		if err := load(env); err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
	invalid := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"},
		{map[string]string{"SMTP_URL": "smtp://"}, "SMTP_URL"},
		{map[string]string{"SMTP_URL": "smtp://h?starttls=maybe"}, "starttls"},
		{map[string]string{"SMTP_URL": "smtp://h?auth=plain"}, "auth"},
		{map[string]string{"SMTP_URL": "smtp://u:p@h?auth=kerberos"}, "auth"},
		{map[string]string{"SMTP_URL": "smtp://h:port"}, "SMTP_URL"},
		{map[string]string{"NOTIFICATIONS_EMAIL_FROM": "not an address"}, "NOTIFICATIONS_EMAIL_FROM"},
		{with(map[string]string{"TWILIO_AUTH_TOKEN": ""}), "TWILIO_AUTH_TOKEN"},
		{with(map[string]string{"TWILIO_FROM": ""}), "TWILIO_FROM"},
		{with(map[string]string{"TWILIO_API_BASE": "api.twilio.com"}), "TWILIO_API_BASE"},
		{map[string]string{"NOTIFICATIONS_MAX_ATTEMPTS": "0"}, "NOTIFICATIONS_MAX_ATTEMPTS"},
		{map[string]string{"NOTIFICATIONS_RETRY_MAX": "1ms"}, "NOTIFICATIONS_RETRY_MAX"},
		{map[string]string{"NOTIFICATIONS_QUOTA": "0"}, "NOTIFICATIONS_QUOTA"},
		{map[string]string{"NOTIFICATIONS_CONTACT_WAIT": "0s"}, "NOTIFICATIONS_CONTACT_WAIT"},
		{map[string]string{"NOTIFICATIONS_SEND_TIMEOUT": "0s"}, "NOTIFICATIONS_SEND_TIMEOUT"},
	}
	for _, tt := range invalid {
		err := load(tt.env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error naming %s", tt.env, err, tt.want)
		}
	}
}
