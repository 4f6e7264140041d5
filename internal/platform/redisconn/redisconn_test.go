package redisconn_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/redisconn"
	"emporium/internal/platform/redistest"
	"emporium/internal/platform/testkit"
)

func TestOpenErrorsNameTheVariableAndHideThePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
	}{
		{"unparsable", "redis://:s3cret@[::1"},
		{"wrong scheme", "http://:s3cret@127.0.0.1:6379/0"},
		{"bad database", "redis://:s3cret@127.0.0.1:6379/zero"},
		{"nobody listening",
			"redis://user:s3cret@" + redistest.ClosedAddr(t) + "/0?max_retries=-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, err := redisconn.Open(context.Background(), tt.url)
			if err == nil {
				client.Close()
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "REDIS_URL") || strings.Contains(msg, "s3cret") {
				t.Errorf("error %q: want it to name REDIS_URL and not show the password", msg)
			}
		})
	}
}

func TestOpenPings(t *testing.T) {
	t.Parallel()
	url := testkit.Need(t, redistest.URLEnv, "Redis")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := redisconn.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", redistest.URLEnv, err)
	}
	defer client.Close()
	if !client.Options().ContextTimeoutEnabled {
		t.Error("the client ignores context deadlines")
	}
	if err := client.Ping(ctx).Err(); err != nil {
		t.Error(err)
	}
}
