// Package gateway is the all-in-one's front door: one port that routes each
// request by path to the service that owns it. A route to a service in the
// same process hands the request to the service's public handler as it is:
// one HTTP server, one middleware chain (the service's own, so that its logs
// and metrics name it), one access line. A route to a service elsewhere
// proxies the request over real HTTP, as Nginx does in production.
//
// When a proxied service gives no answer, the front door answers for it:
//   - a service that cannot be reached, or does not answer within the request
//     deadline (web.Deadline, which the front door's web.Stack sets), is
//     503 unavailable with Retry-After: API.md's "a dependency down". A slow
//     service gets no 504 of its own: to a client a service too slow to
//     answer in time is a service down, and one retryable answer with one
//     code is simpler to handle than two;
//   - only a client that went away (its request's context canceled) gets no
//     answer: the access log records web.StatusClientClosed (499).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/web"
)

// Route sends requests whose path matches Path to the service that owns it:
// to Handler, in this process, when it is set; over HTTP to Target
// otherwise. Path is an http.ServeMux pattern without a method:
// "/api/v1/auth/" is a subtree, "/openapi/identity.yaml" one path.
type Route struct {
	Path   string
	Target *url.URL
	// Handler is the service's public handler with its whole middleware
	// chain (web.Stack): the front door adds none of its own around it.
	Handler http.Handler
}

// Config configures NewFront.
type Config struct {
	Routes []Route
	// Probes serves GET /livez and /readyz.
	Probes http.Handler
	// Logger receives the proxy's warnings about services it cannot reach.
	Logger *slog.Logger
	// Wrap puts the front door's own middleware (web.Stack) around what the
	// front door answers itself — the probes, unrouted paths, bodies it
	// refuses — and around proxied routes. Routes served in process are not
	// wrapped: they bring their own. Nil wraps nothing.
	Wrap func(http.Handler) http.Handler
}

// Gateway is the front door's handler.
type Gateway struct {
	// pick matches a request against every route, in-process or not, so that
	// the longest pattern wins whichever kind it is; fast does the same for
	// clean paths without allocating.
	pick      *http.ServeMux
	fast      matcher
	own       http.Handler // the router behind the front door's own middleware
	router    *web.Router
	transport *http.Transport
}

// inProcess marks, in pick, a route served by a handler in this process.
type inProcess struct{ http.Handler }

// New returns the front door for routes, with the probes (GET /livez and
// /readyz) served by probes and no middleware of its own (the caller wraps
// it). Two routes with the same path panic: two services cannot own one
// path. Unrouted paths answer the 404 problem.
func New(routes []Route, probes http.Handler, logger *slog.Logger) *Gateway {
	return NewFront(Config{Routes: routes, Probes: probes, Logger: logger})
}

// NewFront returns the front door cfg describes.
func NewFront(cfg Config) *Gateway {
	g := &Gateway{pick: http.NewServeMux(), router: web.NewRouter(),
		transport: http.DefaultTransport.(*http.Transport).Clone()}
	// Keep connections to the services open under concurrency, not two per
	// service, and give up on a service that does not answer.
	g.transport.MaxIdleConns, g.transport.MaxIdleConnsPerHost = 1000, 100
	g.transport.ResponseHeaderTimeout = responseTimeout
	g.router.Handle("GET /livez", cfg.Probes)
	g.router.Handle("GET /readyz", cfg.Probes)
	var own http.Handler = http.HandlerFunc(g.serveOwn)
	if cfg.Wrap != nil {
		own = cfg.Wrap(own)
	}
	g.own = own
	for _, rt := range cfg.Routes {
		if rt.Handler != nil {
			g.pick.Handle(rt.Path, inProcess{rt.Handler})
			g.fast.add(rt.Path, rt.Handler)
			// In the router too, whose http.ServeMux redirects a path to clean
			// ("/a/./b") as it did for a proxied route; a clean one never gets
			// there.
			g.router.Handle(rt.Path, rt.Handler)
			continue
		}
		g.pick.Handle(rt.Path, own)
		g.fast.add(rt.Path, nil)
		g.router.Handle(rt.Path, newProxy(rt.Target, g.transport, observability.OrDefault(cfg.Logger)))
	}
	return g
}

// responseTimeout bounds the wait for a service's answer.
const responseTimeout = 60 * time.Second

// ServeHTTP routes r to its service: in process, straight to the service's
// handler; otherwise through the front door's own middleware.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A body known to be too large is the front door's to refuse, before a
	// byte of it is read or forwarded.
	if r.ContentLength <= web.MaxBodyBytes {
		if h, ok := g.fast.match(r); ok {
			if h == nil {
				h = g.own
			}
			h.ServeHTTP(w, r)
			return
		}
		if h, _ := g.pick.Handler(r); h != nil {
			if local, ok := h.(inProcess); ok {
				local.ServeHTTP(w, r)
				return
			}
		}
	}
	g.own.ServeHTTP(w, r)
}

// serveOwn answers what the front door answers itself, and proxies.
func (g *Gateway) serveOwn(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > web.MaxBodyBytes {
		web.WriteError(w, r, errTooLarge)
		return
	}
	g.router.ServeHTTP(w, r)
}

// CloseIdle closes the connections to the services that carry no request,
// so that the services, shutting down after the front door, find none
// waiting on them.
func (g *Gateway) CloseIdle() { g.transport.CloseIdleConnections() }

var (
	errUpstream = errs.New(errs.Unavailable, "unavailable", "the service is not available")
	errTooLarge = errs.New(errs.TooLarge, "body_too_large", "the body is larger than 1 MiB")
	errTooSlow  = errs.New(errs.Unavailable, "unavailable",
		"the service did not answer in time; try again later")
)

func newProxy(target *url.URL, transport http.RoundTripper, logger *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Keep the hops a proxy in front of us named and add our client:
			// the service trusts only what its trusted proxies appended.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			// The request id the front door assigned travels on, so logs join up.
			if id := web.RequestID(pr.In.Context()); id != "" {
				pr.Out.Header.Set("X-Request-ID", id)
			}
		},
		// The front door already set X-Request-ID on the response; do not repeat it.
		ModifyResponse: func(res *http.Response) error {
			res.Header.Del("X-Request-ID")
			return nil
		},
		// Carry the front door's span to the service as W3C trace context.
		Transport: otelhttp.NewTransport(transport),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge): // a body of unknown length ran past the limit
				web.WriteError(w, r, errTooLarge)
			case errors.Is(r.Context().Err(), context.Canceled):
				// The client went away: no one to answer.
				w.WriteHeader(web.StatusClientClosed)
			case errors.Is(r.Context().Err(), context.DeadlineExceeded):
				logger.WarnContext(r.Context(), "front door: service did not answer in time",
					slog.String("target", target.Host), slog.String("error", err.Error()))
				web.WriteError(w, r, fmt.Errorf("%w: %w", errTooSlow, err))
			default:
				logger.WarnContext(r.Context(), "front door: service unreachable",
					slog.String("target", target.Host), slog.String("error", err.Error()))
				web.WriteError(w, r, errUpstream)
			}
		},
	}
}
