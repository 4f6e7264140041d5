package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"emporium/internal/platform/errs"
)

// errPanic answers a request whose handler panicked: a plain 500 "internal"
// problem; the panic value and stack go to the log only.
var errPanic = errs.New(errs.Other, "internal", "panic")

// Recover turns a handler's panic into a 500 internal problem and logs the
// panic value and stack at error on the request's logger. When the response
// had already started, no problem can be sent and a clean end would pass the
// truncated body off as complete: Recover panics with http.ErrAbortHandler
// instead, so net/http aborts the response (closes the connection, or resets
// the HTTP/2 stream) and the client sees an error. A handler's own
// http.ErrAbortHandler is passed on the same way, without a log line.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Record(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			Logger(r.Context()).LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("panic", fmt.Sprint(v)),
				slog.String("stack", string(debug.Stack())))
			if rec.Started() {
				panic(http.ErrAbortHandler)
			}
			// Headers the handler set before panicking describe a response
			// that will not be sent; only the request id stays.
			h := rec.Header()
			id := h.Get(requestIDKey)
			clear(h)
			if id != "" {
				h.Set(requestIDKey, id)
			}
			WriteProblem(rec, ProblemFor(errPanic))
		}()
		next.ServeHTTP(rec, r)
	})
}
