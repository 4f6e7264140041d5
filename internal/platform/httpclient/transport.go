package httpclient

import (
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// defaultTransport is an otelhttp transport over an http.Transport tuned for
// many concurrent calls to one host. Without an explicit propagator it injects
// W3C trace context and baggage, whatever the global propagator is.
//
// It never uses a proxy: HTTP_PROXY and HTTPS_PROXY in the environment are
// for the way out to the internet (Stripe, Twilio), not for calls between
// the services, which would otherwise carry the service credential through
// a proxy and depend on it.
func defaultTransport(tp trace.TracerProvider,
	prop propagation.TextMapPropagator) http.RoundTripper {
	base := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   2 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if prop == nil {
		prop = propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{})
	}
	opts := []otelhttp.Option{otelhttp.WithPropagators(prop)}
	if tp != nil {
		opts = append(opts, otelhttp.WithTracerProvider(tp))
	}
	return otelhttp.NewTransport(base, opts...)
}
