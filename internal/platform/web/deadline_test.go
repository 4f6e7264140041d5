package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"emporium/internal/platform/errs"
)

// TestDeadline: every request's context has a deadline, so a handler waiting
// on a dependency that hangs answers 503 instead of hanging.
func TestDeadline(t *testing.T) {
	var deadline time.Time
	h := Stack(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		deadline, _ = r.Context().Deadline()
		<-r.Context().Done() // a dependency that never answers
		return errs.E(errs.Unavailable, "", "the dependency did not answer", r.Context().Err())
	}), StackConfig{RequestTimeout: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	start := time.Now()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if deadline.IsZero() || deadline.After(start.Add(time.Second)) {
		t.Errorf("the request's deadline was %v, want about 50ms after %v", deadline, start)
	}
}
