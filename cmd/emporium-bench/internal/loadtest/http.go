package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// NewClient returns an HTTP client that keeps a connection open for each of
// conc clients (the default keeps two per host, and a closed-loop benchmark
// would measure connection setup instead of the server).
func NewClient(conc int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * conc
	t.MaxIdleConnsPerHost = 2 * conc
	t.DisableCompression = true
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// StatusError is an answer with another status than the one expected.
type StatusError struct {
	Method, URL string
	Code        int
	Body        string // the start of the answer
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.URL, e.Code, e.Body)
}

// Cause names a failure for the report: "status 503" for an unexpected
// answer, and for a request that got none the kind of transport error
// ("timeout", "connection refused", "connection reset", "eof", "canceled")
// or "transport" for any other.
func Cause(err error) string {
	var se *StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("status %d", se.Code)
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.As(err, &ne):
		return "transport"
	}
	return "other: " + err.Error()
}

// Request describes one call: Body, when not nil, is sent as JSON; Headers
// are pairs of name and value.
type Request struct {
	Method, URL, Token string
	Body               any
	Headers            []string
	Want               int // the expected status, 200 when 0
	Also               int // another status that is no error (304 to a conditional request), or 0
	// Answer, when not nil, gets the answer's status and headers.
	Answer *Answer
}

// Answer is what Do tells of an answer besides its body.
type Answer struct {
	Status int
	Header http.Header
}

// Do sends req and decodes the answer into out when out is not nil. It
// returns the answer's size in bytes; an answer of another status than
// req.Want is a *StatusError.
func Do(ctx context.Context, c *http.Client, req Request, out any) (int, error) {
	var body io.Reader
	if req.Body != nil {
		raw, err := json.Marshal(req.Body)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return 0, err
	}
	if req.Body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.Token != "" {
		r.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for i := 0; i+1 < len(req.Headers); i += 2 {
		r.Header.Set(req.Headers[i], req.Headers[i+1])
	}
	res, err := c.Do(r)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return len(raw), err
	}
	want := req.Want
	if want == 0 {
		want = http.StatusOK
	}
	if req.Answer != nil {
		*req.Answer = Answer{Status: res.StatusCode, Header: res.Header}
	}
	if res.StatusCode != want && (req.Also == 0 || res.StatusCode != req.Also) {
		return len(raw), &StatusError{Method: req.Method, URL: req.URL, Code: res.StatusCode,
			Body: string(raw[:min(len(raw), 200)])}
	}
	if out != nil && res.StatusCode == want {
		if err := json.Unmarshal(raw, out); err != nil {
			return len(raw), fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
		}
	}
	return len(raw), nil
}
