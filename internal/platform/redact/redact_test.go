package redact

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"no secret", "postgres://db:5432/app?sslmode=disable",
			"postgres://db:5432/app?sslmode=disable"},
		{"user without password", "postgres://app@db/x", "postgres://app@db/x"},
		{"password", "postgres://app:hunter2@db:5432/x", "postgres://app:*****@db:5432/x"},
		{"escaped password", "postgres://app:p%40ss%2Fw@db/x", "postgres://app:*****@db/x"},
		{"empty user, password", "redis://:hunter2@cache:6379/0", "redis://:*****@cache:6379/0"},
		{"password parameter", "postgres://db/x?sslmode=disable&password=hunter2",
			"postgres://db/x?sslmode=disable&password=*****"},
		{"secret-like parameters, order kept",
			"postgres://db/x?sslpassword=a&b=1&api_key=k&Token=t&client_secret=s&sig=z",
			"postgres://db/x?sslpassword=*****&b=1&api_key=*****&Token=*****" +
				"&client_secret=*****&sig=*****"},
		{"escaped parameter name", "postgres://db/x?pass%77ord=hunter2",
			"postgres://db/x?pass%77ord=*****"},
		{"both", "postgres://app:hunter2@db/x?password=p2",
			"postgres://app:*****@db/x?password=*****"},
		{"NATS list", "nats://u:p1@h1:4222,nats://u:p2@h2:4222, nats://h3:4222",
			"nats://u:*****@h1:4222,nats://u:*****@h2:4222, nats://h3:4222"},
		{"NATS token", "nats://s3cr3t@h1:4222,tls://t2@h2:4222",
			"nats://*****@h1:4222,tls://*****@h2:4222"},
		{"list without schemes", "u:p@h1:4222,h2:4222", "u:*****@h1:4222,h2:4222"},
		{"comma in password", "postgres://app:a,b@db/x", "postgres://app:*****@db/x"},
		{"comma in secret parameter", "nats://h1?token=a,b,nats://u:p@h2",
			"nats://h1?token=*****,nats://u:*****@h2"},
		{"unparsable port", "nats://u:hunter2@127.0.0.1:badport",
			"nats://u:*****@127.0.0.1:badport"},
		{"unescaped slash and at in password", "postgres://app:a/b@c@db/x",
			"postgres://app:*****@db/x"},
		{"key=value string", "host=db user=app password='hun ter2' sslmode=disable",
			"host=db user=app password=***** sslmode=disable"},
		{"key=value string with a comma", "host=db password=a,b port=5432",
			"host=db password=***** port=5432"},
		{"sqlite", "sqlite:/var/lib/app.db?_pragma=busy_timeout(5000)",
			"sqlite:/var/lib/app.db?_pragma=busy_timeout(5000)"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := URL(tt.in); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestURLKeepsParsableURLsParsable checks that a redacted URL still parses
// to the same host, user and path.
func TestURLKeepsParsableURLsParsable(t *testing.T) {
	t.Parallel()
	in := "postgres://app:hunter2@db:5432/x?password=p2&sslmode=disable"
	u, err := url.Parse(URL(in))
	if err != nil {
		t.Fatalf("parse %q: %v", URL(in), err)
	}
	pw, _ := u.User.Password()
	got := []string{u.User.Username(), pw, u.Host, u.Path, u.Query().Get("password"),
		u.Query().Get("sslmode")}
	want := []string{"app", Mask, "db:5432", "/x", Mask, "disable"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("parsed = %q, want %q", got, want)
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	const raw = "nats://u:hu%6Eter2@127.0.0.1:badport,nats://tok3n@h2"
	_, parseErr := url.Parse("nats://u:hu%6Eter2@127.0.0.1:badport")
	refused := fmt.Errorf("dial %s: %w", raw, syscall.ECONNREFUSED)
	tests := []struct {
		name    string
		err     error
		wantMsg string
		wantIs  error // a cause that must still be found, or nil
		same    bool  // Error must return err itself
	}{
		{"nil", nil, "", nil, true},
		{"nothing to hide", fmt.Errorf("no servers: %w", context.DeadlineExceeded),
			"no servers: context deadline exceeded", context.DeadlineExceeded, true},
		{"url.Error quotes the URL", parseErr,
			`parse "nats://u:*****@127.0.0.1:badport": invalid port ":badport" after host`,
			nil, false},
		{"unescaped and token forms", errors.New("auth hunter2 failed for tok3n"),
			"auth ***** failed for *****", nil, false},
		{"cause kept", refused,
			"dial nats://u:*****@127.0.0.1:badport,nats://*****@h2: connection refused",
			syscall.ECONNREFUSED, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Error(tt.err, raw)
			if tt.same {
				if got != tt.err {
					t.Errorf("Error = %v, want err itself", got)
				}
				return
			}
			if got.Error() != tt.wantMsg {
				t.Errorf("message = %q\nwant      %q", got.Error(), tt.wantMsg)
			}
			for e := got; e != nil; e = errors.Unwrap(e) {
				if s := e.Error(); strings.Contains(s, "hunter2") ||
					strings.Contains(s, "hu%6Eter2") || strings.Contains(s, "tok3n") {
					t.Errorf("chain member %q shows a secret", s)
				}
			}
			if tt.wantIs != nil && !errors.Is(got, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", got, tt.wantIs)
			}
		})
	}
}

func FuzzURLHidesPasswords(f *testing.F) {
	for _, s := range []string{"s3cretpw", "p@ssw0rd!", "a/b/c/d/e", "100%zz%", "pass word", "päss-wörd"} {
		f.Add("postgres", s)
		f.Add("nats", s)
	}
	f.Fuzz(func(t *testing.T, scheme, pw string) {
		if len(pw) < 6 || strings.ContainsAny(pw, "?,") || !isScheme(scheme) || scheme == "" {
			t.Skip()
		}
		// Only what follows the scheme counts: the fuzzer may repeat pw there.
		in := scheme + "://app:" + pw + "@db:5432/x"
		if got := URL(in); strings.Contains(got[len(scheme):], pw) {
			t.Errorf("URL(%q) = %q shows the password", in, got)
		}
		q := scheme + "://db/x?password=" + url.QueryEscape(pw)
		if got := URL(q); strings.Contains(got[len(scheme):], url.QueryEscape(pw)) {
			t.Errorf("URL(%q) = %q shows the password", q, got)
		}
	})
}
