package web

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

// RequestIDHeader is the header that carries a request's id both ways.
const RequestIDHeader = "X-Request-ID"

// requestIDKey is RequestIDHeader in canonical form, which header lookups
// use without allocating.
const requestIDKey = "X-Request-Id"

// maxRequestIDLen bounds a client's request id; longer ones are replaced.
const maxRequestIDLen = 128

// unmatchedRoute is the route label of a request no registered pattern served.
// It is never the raw path, which would make label values unbounded.
const unmatchedRoute = "unmatched"

// requestInfo is the per-request state the middleware share. It is put in the
// context once, by the outermost middleware, and is mutable so that the
// router, which sees a different *http.Request than the middleware around it,
// can report the pattern it matched.
type requestInfo struct {
	id    string
	route string
	log   lazyLogger // set by AccessLog
}

type requestInfoKey struct{}

// infoOf returns r's requestInfo, adding one (and returning the new request)
// if r has none yet.
func infoOf(r *http.Request) (*requestInfo, *http.Request) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return info, r
	}
	info := &requestInfo{}
	return info, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
}

// routeOf returns the pattern that served the request, or "unmatched".
func (info *requestInfo) routeOf() string {
	if info.route == "" {
		return unmatchedRoute
	}
	return info.route
}

// RequestID returns the id of the request ctx belongs to, or "" outside one.
func RequestID(ctx context.Context) string {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info.id
	}
	return ""
}

// AssignRequestID gives every request an id: the client's X-Request-ID when it is
// sane (1 to 128 visible ASCII characters), a new UUIDv7 otherwise. The id is
// set on the response before the handler runs, so every answer carries it,
// and is available to the handler through RequestID.
func AssignRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, r := infoOf(r)
		id := r.Header.Get(requestIDKey)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		info.id = id
		w.Header().Set(requestIDKey, id)
		next.ServeHTTP(w, r)
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	// NewV7 fails only when the system's random source does.
	return uuid.Must(uuid.NewV7()).String()
}
