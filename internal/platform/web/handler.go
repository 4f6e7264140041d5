package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
)

// HandlerFunc is an HTTP handler that returns an error instead of writing one.
// The error is answered once, by WriteError.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP calls h and answers its error, if any.
func (h HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// JSON writes v as a JSON response with the given status.
func JSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// NoContent answers 204.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type loggerKey struct{}

// WithLogger returns a context that carries logger.
func WithLogger(ctx context.Context, logger *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, logger)
}

// Logger returns the request's logger (with its request and trace ids), or the
// default logger outside a request.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok && info.log.base != nil {
		return info.log.get()
	}
	return slog.Default()
}

// WithLogAttr returns a context whose request logger (see Logger) also
// carries a. While the request's logger has not been used yet, a joins its
// request and trace ids — in the access line too — without allocating;
// otherwise a new logger is derived.
func WithLogAttr(ctx context.Context, a slog.Attr) context.Context {
	if ctx.Value(loggerKey{}) == nil {
		if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok && info.log.add(a) {
			return ctx
		}
	}
	return WithLogger(ctx, Logger(ctx).With(a))
}

// lazyLogger is a request's logger, built on first use: most requests never
// log anything but their access line, which needs no derived logger. It
// lives in the request's requestInfo, so that making it allocates nothing.
type lazyLogger struct {
	mu     sync.Mutex
	base   *slog.Logger
	attrs  [3]slog.Attr // request_id, trace_id, and one more (user_id)
	n      int
	logger *slog.Logger
}

// ids returns the attributes of every line logged for the request.
func (l *lazyLogger) ids() []slog.Attr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.attrs[:l.n]
}

// add adds a to the logger's attributes, unless the logger was built or
// there is no room left.
func (l *lazyLogger) add(a slog.Attr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.base == nil || l.logger != nil || l.n == len(l.attrs) {
		return false
	}
	l.attrs[l.n] = a
	l.n++
	return true
}

func (l *lazyLogger) get() *slog.Logger {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logger == nil {
		l.logger = slog.New(l.base.Handler().WithAttrs(l.attrs[:l.n]))
	}
	return l.logger
}
