package web

import (
	"net/http"
	"slices"

	"emporium/internal/platform/errs"
)

// Router is an http.ServeMux (Go 1.22 patterns such as
// "GET /api/v1/products/{id}") that answers unknown routes and wrong methods
// with problems instead of the mux's plain text, and reports the pattern that
// served each request to the middleware around it.
type Router struct {
	mux      *http.ServeMux
	patterns []string
}

// NewRouter returns an empty Router.
func NewRouter() *Router {
	return &Router{mux: http.NewServeMux()}
}

// Handle registers h for pattern. Like http.ServeMux.Handle it panics on an
// invalid pattern or one that conflicts with a registered pattern.
func (rt *Router) Handle(pattern string, h http.Handler) {
	if h == nil {
		panic("web: nil handler for " + pattern)
	}
	rt.mux.Handle(pattern, routed{h})
	rt.patterns = append(rt.patterns, pattern)
}

// HandleFunc registers an error-returning handler for pattern.
func (rt *Router) HandleFunc(pattern string, h HandlerFunc) {
	rt.Handle(pattern, h)
}

// Routes returns the registered patterns in the order they were registered.
func (rt *Router) Routes() []string {
	return slices.Clone(rt.patterns)
}

// ServeHTTP dispatches r to the handler whose pattern matches it best.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.mux.ServeHTTP(&unroutedWriter{ResponseWriter: w}, r)
}

// routed wraps every registered handler: it records the matched pattern and
// hands the handler the caller's ResponseWriter, not the router's interceptor.
type routed struct{ h http.Handler }

func (rh routed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if uw, ok := w.(*unroutedWriter); ok {
		w = uw.ResponseWriter
	}
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.route = r.Pattern
	}
	rh.h.ServeHTTP(w, r)
}

// unroutedWriter sees only what the mux itself writes when no registered
// handler runs: its plain-text 404 and 405 answers are replaced by problems
// (keeping the Allow header the mux set); redirects pass through.
type unroutedWriter struct {
	http.ResponseWriter
	swallow bool
}

var (
	errNoRoute = errs.New(errs.NotFound, "not_found", "no resource exists at this path")

	problemMethodNotAllowed = Problem{
		Type:   "/problems/method_not_allowed",
		Title:  http.StatusText(http.StatusMethodNotAllowed),
		Status: http.StatusMethodNotAllowed,
		Detail: "the resource does not support this method; see the Allow header",
		Code:   "method_not_allowed",
	}
)

func (w *unroutedWriter) WriteHeader(status int) {
	switch status {
	case http.StatusNotFound:
		w.swallow = true
		w.Header().Del("X-Content-Type-Options")
		WriteProblem(w.ResponseWriter, ProblemFor(errNoRoute))
	case http.StatusMethodNotAllowed:
		w.swallow = true
		w.Header().Del("X-Content-Type-Options")
		WriteProblem(w.ResponseWriter, problemMethodNotAllowed)
	default:
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *unroutedWriter) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *unroutedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
