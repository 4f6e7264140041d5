package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"emporium/internal/platform/observability"
)

// quietPaths are probed and scraped all day; their access lines are debug.
var quietPaths = map[string]bool{"/livez": true, "/readyz": true, "/metrics": true}

// AccessLog writes one JSON line per request, at info (debug for /livez,
// /readyz and /metrics): method, route, path, status, bytes, duration_ms,
// remote_addr, with the request_id and trace_id that the request-scoped
// logger carries. That logger is put in the context (see Logger) for the
// handler and WriteError. Server errors are logged as errors by WriteError;
// the access line stays at info. A response aborted by a panic (see Recover)
// still gets its line, with "aborted": true.
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	logger = observability.OrDefault(logger)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info, r := infoOf(r)
			ids := requestAttrs(r.Context(), info)
			rec := Record(w)
			// The lazy logger sees only the ids, capped so that the access line's
			// appends below never touch what it holds.
			lazy := &lazyLogger{base: logger, attrs: ids[:len(ids):len(ids)]}
			ctx := context.WithValue(r.Context(), loggerKey{}, lazy)
			finished := false
			// Deferred so that a response aborted by a panic is logged too.
			defer func() {
				level := slog.LevelInfo
				if quietPaths[r.URL.Path] {
					level = slog.LevelDebug
				}
				if !logger.Enabled(r.Context(), level) {
					return
				}
				status := rec.Status()
				if status == 0 {
					status = http.StatusOK
				}
				attrs := append(ids,
					slog.String("method", r.Method),
					slog.String("route", info.routeOf()),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int64("bytes", rec.Bytes()),
					slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
					slog.String("remote_addr", r.RemoteAddr),
				)
				if !finished {
					attrs = append(attrs, slog.Bool("aborted", true))
				}
				logger.LogAttrs(r.Context(), level, "request", attrs...)
			}()
			next.ServeHTTP(rec, r.WithContext(ctx))
			finished = true
		})
	}
}

// requestAttrs returns the request's id and, when there is one, its trace id:
// the attributes of every line logged for the request.
func requestAttrs(ctx context.Context, info *requestInfo) []slog.Attr {
	// Room for the access line's own attributes, appended after the handler.
	attrs := make([]slog.Attr, 0, 10)
	if info.id != "" {
		attrs = append(attrs, slog.String("request_id", info.id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
	}
	return attrs
}
