package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"emporium/internal/platform/observability"
)

// quietPaths are probed and scraped all day; their access lines are debug.
var quietPaths = map[string]bool{"/livez": true, "/readyz": true, "/metrics": true}

// AccessReads says which successful reads (GET and HEAD answered below 400)
// get an access line: every one, one in SampleRate, or none. Writes, client
// and server errors are always logged. It is LOG_ACCESS_READS: all, sample
// or none.
type AccessReads int

// The values of AccessReads.
const (
	AccessReadsAll AccessReads = iota
	AccessReadsSample
	AccessReadsNone
)

// SampleRate is how many successful reads one sampled access line stands
// for (AccessReadsSample); the line says so in its "sample_rate".
const SampleRate = 100

// UnmarshalText parses "all", "sample" or "none".
func (a *AccessReads) UnmarshalText(b []byte) error {
	switch string(b) {
	case "all", "":
		*a = AccessReadsAll
	case "sample":
		*a = AccessReadsSample
	case "none":
		*a = AccessReadsNone
	default:
		return fmt.Errorf("access reads %q: want all, sample or none", b)
	}
	return nil
}

// String returns the name UnmarshalText reads.
func (a AccessReads) String() string {
	switch a {
	case AccessReadsSample:
		return "sample"
	case AccessReadsNone:
		return "none"
	}
	return "all"
}

// AccessLog writes one JSON line per request, at info (debug for /livez,
// /readyz and /metrics): method, route, path, status, bytes, duration_ms,
// remote_addr, with the request_id and trace_id that the request-scoped
// logger carries. That logger is available to the handler and WriteError
// through Logger. Server errors are logged as errors by WriteError; the
// access line stays at info. A response aborted by a panic (see Recover)
// still gets its line, with "aborted": true. reads thins out the lines of
// successful reads.
func AccessLog(logger *slog.Logger, reads AccessReads) func(http.Handler) http.Handler {
	logger = observability.OrDefault(logger)
	var seen atomic.Uint64 // successful reads, for sampling
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info, r := infoOf(r)
			info.setLogger(logger, r.Context())
			rec := Record(w)
			finished := false
			// Deferred so that a response aborted by a panic is logged too.
			defer func() {
				status := rec.Status()
				if status == 0 {
					status = http.StatusOK
				}
				level := slog.LevelInfo
				if quietPaths[r.URL.Path] {
					level = slog.LevelDebug
				}
				sampled := false
				if finished && reads != AccessReadsAll && status < 400 &&
					(r.Method == http.MethodGet || r.Method == http.MethodHead) {
					if reads == AccessReadsNone || seen.Add(1)%SampleRate != 1 {
						return
					}
					sampled = true
				}
				if !logger.Enabled(r.Context(), level) {
					return
				}
				// On the stack: the line's attributes are copied into its record.
				var buf [12]slog.Attr
				attrs := append(buf[:0], info.log.ids()...)
				attrs = append(attrs,
					slog.String("method", r.Method),
					slog.String("route", info.routeOf()),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int64("bytes", rec.Bytes()),
					slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
					slog.String("remote_addr", r.RemoteAddr),
				)
				if sampled {
					attrs = append(attrs, slog.Int("sample_rate", SampleRate))
				}
				if !finished {
					attrs = append(attrs, slog.Bool("aborted", true))
				}
				logger.LogAttrs(r.Context(), level, "request", attrs...)
			}()
			next.ServeHTTP(rec, r)
			finished = true
		})
	}
}

// setLogger makes the request's logger: base with the request's id and,
// when there is one, its trace id — the attributes of every line logged for
// the request. It is built on first use (see Logger).
func (info *requestInfo) setLogger(base *slog.Logger, ctx context.Context) {
	l := &info.log
	l.base = base
	l.n = 0
	if info.id != "" {
		l.attrs[l.n] = slog.String("request_id", info.id)
		l.n++
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		l.attrs[l.n] = slog.String("trace_id", sc.TraceID().String())
		l.n++
	}
}
