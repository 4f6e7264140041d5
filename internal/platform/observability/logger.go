// Package observability sets up Emporium's logs (log/slog, JSON) and traces
// (OpenTelemetry, exported over OTLP/HTTP when an endpoint is configured).
// Metrics are Prometheus collectors registered where they are measured.
package observability

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// NewLogger returns a logger that writes one JSON object per line to w, with
// UTC times, dropping records below level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				a.Value = slog.TimeValue(a.Value.Time().UTC())
			}
			return a
		},
	}))
}

// ParseLevel parses a log level name: debug, info, warn (or warning) or error,
// in any case, optionally with an offset as slog writes it ("info+2").
func ParseLevel(s string) (slog.Level, error) {
	name := strings.TrimSpace(s)
	if strings.EqualFold(name, "warning") {
		name = "warn"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(name)); err != nil {
		return 0, fmt.Errorf("observability: parse level %q: want debug, info, warn or error", s)
	}
	return level, nil
}

// OrDefault returns log, or slog.Default() when log is nil: the one way a
// component defaults a logger it was not given, so that nothing it says is
// silently thrown away.
func OrDefault(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.Default()
	}
	return log
}
