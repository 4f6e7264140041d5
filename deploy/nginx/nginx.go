// Package nginx writes the API gateway's Nginx configuration from the list of
// services (deploy/services.json): one upstream per service with least_conn
// over its replicas and passive health (max_fails, fail_timeout), one location
// per path the all-in-one front door routes, limit_req on the rate-limited
// paths, a 1 MiB body limit, X-Request-ID passed on or made, the client's
// address forwarded, and every answer Nginx gives itself (404, 413, 429, 502,
// 503, 504, …) as an RFC 9457 problem. Internal routes are never proxied.
//
// The same template makes every variant: the local topology's (rendered at
// start, with the replicas' loopback addresses), and the committed ones for
// Compose (compose.conf) and Kubernetes (deploy/k8s/base/gateway/nginx.conf),
// whose upstreams are DNS names that Nginx re-resolves.
package nginx

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"text/template"

	"emporium/deploy"
)

// Config is what a variant of the configuration is made from.
type Config struct {
	// Header is the first comment line: which variant this is.
	Header string
	// Services are the services routed, in deploy.Services' order.
	Services []deploy.Service
	// Listen is the public listener's address ("127.0.0.1:8088", "8080").
	Listen string
	// Servers maps each service's name to its replicas' public addresses;
	// with a Resolver, DNS names that resolve to every replica.
	Servers map[string][]string
	// Resolver is the DNS server that re-resolves Servers' names every 10
	// seconds; empty for fixed addresses.
	Resolver string
	// Internal maps a service's name to the address of a listener that
	// balances its internal port over InternalServers (the local topology's
	// stand-in for a cluster's Service); nil elsewhere.
	Internal        map[string]string
	InternalServers map[string][]string
	// AuthRate and AuthBurst limit the rate-limited paths per client address
	// ("10r/s", 20).
	AuthRate  string
	AuthBurst int
	// Workers is worker_processes ("auto", "1").
	Workers string
	// PidFile, TempDir, ErrorLog and AccessLog are where Nginx keeps its
	// files; ErrorLog and AccessLog may be "stderr" and "/dev/stdout".
	PidFile, TempDir, ErrorLog, AccessLog string
}

//go:embed nginx.conf.tmpl
var confTemplate string

var tmpl = template.Must(template.New("nginx.conf").Parse(confTemplate))

// problem is one of Nginx's own answers.
type problem struct {
	Location, Code, Title, Detail string
	Status                        int
	RetryAfter                    int // seconds; 0 for none
}

// problems are Nginx's own answers, in the form of web.ProblemFor's: codes
// from API.md. A refused or missing upstream is "unavailable" with
// Retry-After whatever its status (502, 503 or 504), as a dependency down is.
var problems = []problem{
	{"@bad_request", "malformed_request", "", "the request could not be parsed", 400, 0},
	{"@not_found", "not_found", "", "no resource exists at this path", 404, 0},
	{"@method_not_allowed", "method_not_allowed", "", "the resource does not support this method", 405, 0},
	{"@request_timeout", "request_timeout", "", "the request was not received in time", 408, 0},
	{"@too_large", "body_too_large", "", "the body is larger than 1 MiB", 413, 0},
	{"@uri_too_long", "uri_too_long", "", "the request URI is too long", 414, 0},
	{"@rate_limited", "rate_limited", "", "too many requests from this address; try again later", 429, 1},
	{"@headers_too_large", "headers_too_large", "", "the request headers are too large", 400, 0},
	{"@internal", "internal", "", "an internal error occurred", 500, 0},
	{"@bad_gateway", "unavailable", "", "the service is not available", 502, 5},
	{"@unavailable", "unavailable", "", "the service is not available", 503, 5},
	{"@gateway_timeout", "unavailable", "", "the service did not answer in time; try again later", 504, 5},
}

// location is one routed path.
type location struct {
	Match       string // "/api/v1/auth/" or "= /api/v1/products"
	Upstream    string
	RateLimited bool
	Redirect    string // set for a subtree's bare path: ServeMux redirects it
}

type upstream struct {
	Name    string
	Servers []string
}

type internalProxy struct {
	Name, Listen, Upstream string
}

// Render writes the configuration.
func Render(cfg Config) ([]byte, error) {
	if err := deploy.Validate(cfg.Services); err != nil {
		return nil, err
	}
	data := struct {
		Config
		Upstreams []upstream
		Locations []location
		Problems  []problem
		Internal  []internalProxy
	}{Config: cfg}
	for _, p := range problems {
		p.Title = http.StatusText(p.Status)
		data.Problems = append(data.Problems, p)
	}
	exact := map[string]bool{}
	for _, s := range cfg.Services {
		for _, p := range s.Paths {
			exact[p] = true
		}
	}
	for _, s := range cfg.Services {
		servers := cfg.Servers[s.Name]
		if len(servers) == 0 {
			return nil, fmt.Errorf("nginx: no servers for %s", s.Name)
		}
		data.Upstreams = append(data.Upstreams, upstream{Name: s.Name, Servers: servers})
		data.Locations = append(data.Locations, locations(s, exact)...)
		if addr, ok := cfg.Internal[s.Name]; ok {
			name := s.Name + "_internal"
			if len(cfg.InternalServers[s.Name]) == 0 {
				return nil, fmt.Errorf("nginx: no internal servers for %s", s.Name)
			}
			data.Upstreams = append(data.Upstreams, upstream{Name: name, Servers: cfg.InternalServers[s.Name]})
			data.Internal = append(data.Internal, internalProxy{Name: s.Name, Listen: addr, Upstream: name})
		}
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// locations maps a service's ServeMux patterns to Nginx locations with the
// same meaning: "/x/" is the subtree (longest prefix wins in both), "/x" is
// exactly that path, and "/x" alone, when no service routes it (routed holds
// every service's paths), is redirected to "/x/" as ServeMux does.
func locations(s deploy.Service, routed map[string]bool) []location {
	var out []location
	for _, p := range s.Paths {
		l := location{Upstream: s.Name, RateLimited: slices.Contains(s.RateLimited, p)}
		if bare, ok := strings.CutSuffix(p, "/"); ok && bare != "" {
			l.Match = p
			if !routed[bare] {
				out = append(out, location{Match: "= " + bare, Redirect: p})
			}
		} else {
			l.Match = "= " + p
		}
		out = append(out, l)
	}
	return out
}
