// Package httpclient is the one resilient HTTP client that every
// service-to-service call in Emporium goes through: a deadline per attempt
// inside the caller's budget, retries with exponential backoff and full jitter
// for idempotent requests only, a circuit breaker per downstream, W3C trace
// context propagation, Prometheus metrics and errors that the web package
// answers correctly: 503 with Retry-After when the downstream is down or rate
// limits this service; the downstream's own problem for a domain outcome
// (404, 409, 412, 422 — a 422 without its field list, whose fields name the
// internal request, not the end user's); a bare 500 for any other 4xx, which
// means this service called it wrongly (a bad service credential, a
// malformed request).
//
// Create one Client per downstream service:
//
//	catalog := httpclient.New(httpclient.Config{
//		Name:    "catalog",
//		BaseURL: cfg.CatalogURL,
//		Header:  http.Header{"X-Emporium-Service-Token": {cfg.ServiceToken}},
//	})
//	var out productsResponse
//	err := catalog.GetJSON(ctx, "/internal/products?ids="+ids, &out)
package httpclient

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/observability"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout          = 2 * time.Second
	DefaultMaxAttempts      = 3
	DefaultBaseBackoff      = 50 * time.Millisecond
	DefaultMaxBackoff       = time.Second
	DefaultBreakerFailures  = 5
	DefaultBreakerOpenFor   = 10 * time.Second
	DefaultHalfOpenRequests = 1
)

// Config configures a Client for one downstream service.
type Config struct {
	// Name names the downstream ("catalog") in metrics, logs and errors.
	Name string
	// BaseURL is the downstream's root, e.g. "http://catalog:8081"; request
	// paths are appended to it.
	BaseURL string
	// Timeout bounds each attempt (default 2s). The caller's ctx bounds the
	// whole call, retries and waits included.
	Timeout time.Duration
	// MaxAttempts is how many times an idempotent request is tried (default 3).
	MaxAttempts int
	// BaseBackoff is the backoff before the first retry (default 50ms); it
	// doubles on each retry up to MaxBackoff (default 1s), with full jitter.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Header is added to every request, e.g. the X-Emporium-Service-Token
	// credential. A request's own headers win over it.
	Header http.Header
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig
	// Transport sends the requests. The default is an otelhttp transport over
	// a tuned http.Transport, which starts a client span and injects trace
	// context from ctx. A Transport given here is used as is.
	Transport http.RoundTripper
	// TracerProvider and Propagator configure the default transport; nil
	// means the global TracerProvider and W3C trace context plus baggage.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	// Logger receives retries (debug) and breaker state changes (warn);
	// nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the client's metrics; nil means a private registry.
	// Clients for different downstreams may share one Registerer.
	Registerer prometheus.Registerer
}

// BreakerConfig configures a Client's circuit breaker.
type BreakerConfig struct {
	// Failures is how many consecutive failed attempts (network errors,
	// per-attempt timeouts, 5xx answers) open the breaker (default 5). An
	// attempt that ended because the caller's context did (canceled, or past
	// the caller's own deadline) counts neither as a failure nor as a success.
	Failures uint32
	// OpenFor is how long the breaker stays open, failing fast, before it
	// lets a probe through half-open (default 10s).
	OpenFor time.Duration
	// HalfOpenRequests is how many probes may run while half-open; that many
	// successes in a row close the breaker (default 1).
	HalfOpenRequests uint32
}

// Client calls one downstream service. It is safe for concurrent use.
type Client struct {
	name        string
	baseURL     string
	header      http.Header
	timeout     time.Duration
	maxAttempts int
	// backoff is the wait between attempts: BaseBackoff doubling up to
	// MaxBackoff, with full jitter (tests set Jitter to 0 for the ceiling).
	backoff  backoff.Policy
	openFor  time.Duration
	http     *http.Client
	breaker  *gobreaker.CircuitBreaker[*answer]
	openedAt atomic.Pointer[time.Time]
	metrics  *metrics
	log      *slog.Logger
}

// New returns a Client for the downstream cfg describes, filling in defaults.
func New(cfg Config) *Client {
	c := &Client{
		name:        cfg.Name,
		baseURL:     strings.TrimSuffix(cfg.BaseURL, "/"),
		header:      cfg.Header.Clone(),
		timeout:     orDefault(cfg.Timeout, DefaultTimeout),
		maxAttempts: orDefault(cfg.MaxAttempts, DefaultMaxAttempts),
		backoff: backoff.Policy{
			Initial: orDefault(cfg.BaseBackoff, DefaultBaseBackoff),
			Max:     orDefault(cfg.MaxBackoff, DefaultMaxBackoff),
			Jitter:  1,
		},
		openFor: orDefault(cfg.Breaker.OpenFor, DefaultBreakerOpenFor),
		log:     observability.OrDefault(cfg.Logger).With(slog.String("peer", cfg.Name)),
	}
	c.backoff.Max = max(c.backoff.Max, c.backoff.Initial)
	rt := cfg.Transport
	if rt == nil {
		rt = defaultTransport(cfg.TracerProvider, cfg.Propagator)
	}
	c.http = &http.Client{
		Transport: rt,
		// Never follow redirects: the service credential must not travel to
		// wherever a Location points.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	c.metrics = newMetrics(cfg.Registerer, c.name)
	c.breaker = c.newBreaker(cfg.Breaker)
	return c
}

// Name returns the name of the downstream service.
func (c *Client) Name() string { return c.name }

// Check reports whether the downstream is usable, for readiness probes: an
// Unavailable error while the breaker is open, nil otherwise. It does not
// touch the network.
func (c *Client) Check(context.Context) error {
	if c.breaker.State() == gobreaker.StateOpen {
		return c.breakerError(gobreaker.ErrOpenState)
	}
	return nil
}

func (c *Client) unavailable(cause error, retryAfter time.Duration) *errs.Error {
	e := errs.E(errs.Unavailable, "unavailable",
		"the "+c.name+" service is unavailable", cause)
	e.RetryAfter = retryAfter
	return e
}

// internal is the error for a call that went wrong on this side: a request
// that cannot be built, an answer that cannot be read. It becomes a 500.
func (c *Client) internal(cause error) *errs.Error {
	return errs.E(errs.Other, "", "calling the "+c.name+" service", cause)
}

// orDefault returns def when v is zero or negative.
func orDefault[T cmp.Ordered](v, def T) T {
	var zero T
	if v <= zero {
		return def
	}
	return v
}
