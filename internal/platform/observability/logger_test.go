package observability

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

func TestNewLoggerWritesJSONWithUTCTimes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := NewLogger(&buf, slog.LevelInfo)

	at := time.Date(2026, 3, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600))
	rec := slog.NewRecord(at, slog.LevelInfo, "hello", 0)
	rec.AddAttrs(slog.String("k", "v"))
	if err := logger.Handler().Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	logger.Debug("dropped below the level")

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"time": "2026-03-01T09:30:00Z", "level": "INFO", "msg": "hello", "k": "v",
	}
	for k, w := range want {
		if got := line[k]; got != w {
			t.Errorf("%s = %v, want %v", k, got, w)
		}
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{" warn ", slog.LevelWarn, false},
		{"Warning", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"info+2", slog.LevelInfo + 2, false},
		{"", 0, true},
		{"verbose", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseLevel(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
