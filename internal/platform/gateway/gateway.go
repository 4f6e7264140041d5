// Package gateway is the all-in-one's front door: one port that routes each
// request by path prefix to the public listener of the service that owns it,
// over real HTTP, as Nginx does in production.
package gateway

import (
	"cmp"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

// Route sends requests whose path starts with Prefix to Target.
type Route struct {
	Prefix string
	Target *url.URL
}

// Gateway routes requests to services by the longest matching path prefix.
type Gateway struct {
	routes []route
	health http.Handler
}

type route struct {
	prefix string
	proxy  *httputil.ReverseProxy
}

// New returns a gateway for routes. Requests for /livez and /readyz go to
// health; any other unrouted path answers the 404 not_found problem.
func New(routes []Route, health http.Handler, logger *slog.Logger) *Gateway {
	g := &Gateway{health: health}
	for _, r := range routes {
		g.routes = append(g.routes, route{prefix: r.Prefix, proxy: newProxy(r.Target, logger)})
	}
	// Longest prefix first, so /api/v1/users/me/notifications can go elsewhere than /api/v1/users/.
	slices.SortFunc(g.routes, func(a, b route) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
	return g
}

var errNoRoute = errs.New(errs.NotFound, "not_found", "no such resource")

// ServeHTTP proxies r to the service that owns its path.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/livez" || r.URL.Path == "/readyz" {
		g.health.ServeHTTP(w, r)
		return
	}
	for _, rt := range g.routes {
		if strings.HasPrefix(r.URL.Path, rt.prefix) {
			rt.proxy.ServeHTTP(w, r)
			return
		}
	}
	web.WriteError(w, r, errNoRoute)
}

var errUpstream = errs.New(errs.Unavailable, "unavailable", "the service is not available")

func newProxy(target *url.URL, logger *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
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
		Transport: otelhttp.NewTransport(http.DefaultTransport),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.WarnContext(r.Context(), "front door: service unreachable",
				slog.String("target", target.Host), slog.String("error", err.Error()))
			web.WriteError(w, r, errUpstream)
		},
	}
}
