package openapitest

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// CheckRoutes fails t, listing each route, for every route registered but not
// documented and every route documented but not registered. Routes are
// "METHOD /path/{param}" strings as web.Router.Routes and Document.Routes
// return them; the ignore patterns (such as "GET /livez") are left out of both
// sides.
func CheckRoutes(t testing.TB, doc *Document, registered []string, ignore ...string) {
	t.Helper()
	documented := doc.Routes()
	skip := func(r string) bool { return slices.Contains(ignore, r) }
	var undocumented, unserved []string
	for _, r := range registered {
		if !skip(r) && !slices.Contains(documented, r) {
			undocumented = append(undocumented, r)
		}
	}
	for _, r := range documented {
		if !skip(r) && !slices.Contains(registered, r) {
			unserved = append(unserved, r)
		}
	}
	if len(undocumented) > 0 {
		t.Errorf("routes served but not documented:\n\t%s", strings.Join(undocumented, "\n\t"))
	}
	if len(unserved) > 0 {
		t.Errorf("routes documented but not served:\n\t%s", strings.Join(unserved, "\n\t"))
	}
}

// ValidatingTransport returns a RoundTripper that sends requests through base
// (http.DefaultTransport when nil) and checks every response against doc with
// ValidateResponse, failing t (without stopping it) on a mismatch. Requests
// matching one of the ignore patterns (http.ServeMux patterns, such as
// "GET /livez") are not checked. The response body is read in full and
// replaced, so the caller reads it as usual.
func ValidatingTransport(t testing.TB, doc *Document, base http.RoundTripper,
	ignore ...string) http.RoundTripper {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport
	}
	return &validatingTransport{t: t, doc: doc, base: base, ignore: ignoreMux(t, ignore)}
}

type validatingTransport struct {
	t      testing.TB
	doc    *Document
	base   http.RoundTripper
	ignore *http.ServeMux
}

// RoundTrip sends req and checks the response.
func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := vt.base.RoundTrip(req)
	if err != nil || ignored(vt.ignore, req) {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		// The test sees the same read error; there is nothing to validate.
		return nil, err
	}
	if err := vt.doc.ValidateResponse(req, res.StatusCode, res.Header, body); err != nil {
		vt.t.Errorf("%v", err)
	}
	return res, nil
}

// ValidatingHandler wraps h so that every response it writes is checked
// against doc with ValidateResponse, failing t (without stopping it) on a
// mismatch; requests matching an ignore pattern are not checked. It suits
// tests that call ServeHTTP with an httptest.ResponseRecorder.
func ValidatingHandler(t testing.TB, doc *Document, h http.Handler,
	ignore ...string) http.Handler {
	t.Helper()
	skip := ignoreMux(t, ignore)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ignored(skip, r) {
			h.ServeHTTP(w, r)
			return
		}
		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if tw.header == nil {
			tw.WriteHeader(http.StatusOK) // what net/http sends for a handler that wrote nothing
		}
		err := doc.ValidateResponse(r, tw.status, tw.header, tw.body.Bytes())
		if err != nil {
			t.Errorf("%v", err)
		}
	})
}

// teeWriter keeps a copy of the status, headers and body a handler writes.
type teeWriter struct {
	http.ResponseWriter
	status int
	header http.Header // as sent: a snapshot taken at WriteHeader
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(status int) {
	if w.header == nil && status >= 200 {
		w.status, w.header = status, w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.header == nil {
		w.WriteHeader(http.StatusOK)
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ignoreMux builds a mux of the ignore patterns, failing t on an invalid one.
func ignoreMux(t testing.TB, patterns []string) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	for _, p := range patterns {
		if err := register(mux, p, http.NotFoundHandler()); err != nil {
			t.Fatalf("openapi: ignore pattern: %v", err)
		}
	}
	return mux
}

// ignored reports whether one of mux's patterns matches r.
func ignored(mux *http.ServeMux, r *http.Request) bool {
	_, pattern := mux.Handler(r)
	return pattern != ""
}
