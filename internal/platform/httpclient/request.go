package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"

	"emporium/internal/platform/backoff"
)

// maxAnswerBytes bounds how much of an answer is read; internal answers are
// far smaller, and a bigger one is a fault of the downstream.
const maxAnswerBytes = 32 << 20

// Request describes one call. Method and Path are required.
type Request struct {
	Method string
	// Path is appended to the Client's BaseURL and may carry a query string.
	Path string
	// Header holds headers for this request only; they win over Config.Header.
	Header http.Header
	// Body, when not nil, is encoded as the JSON request body. The encoded
	// bytes are kept and sent intact on every attempt.
	Body any
	// IdempotencyKey, when set, is sent as the Idempotency-Key header and
	// makes a POST or PATCH safe to retry.
	IdempotencyKey string
	// Out receives the JSON body of a 2xx answer; nil discards the body.
	Out any
}

// Response is the status and headers of a 2xx answer; its body went to Out.
type Response struct {
	StatusCode int
	Header     http.Header
}

// GetJSON sends a GET and decodes the JSON answer into out.
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	_, err := c.Do(ctx, Request{Method: http.MethodGet, Path: path, Out: out})
	return err
}

// PostJSON sends in as a JSON POST and decodes the answer into out. With an
// idempotency key the POST is retried like any idempotent request; with an
// empty key it is sent exactly once.
func (c *Client) PostJSON(ctx context.Context, path, idempotencyKey string, in, out any) error {
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: path,
		IdempotencyKey: idempotencyKey, Body: in, Out: out})
	return err
}

// PutJSON sends in as a JSON PUT and decodes the answer into out.
func (c *Client) PutJSON(ctx context.Context, path string, in, out any) error {
	_, err := c.Do(ctx, Request{Method: http.MethodPut, Path: path, Body: in, Out: out})
	return err
}

// PatchJSON sends in as a JSON PATCH and decodes the answer into out. Like a
// POST, it is retried only when it carries an idempotency key.
func (c *Client) PatchJSON(ctx context.Context, path, idempotencyKey string, in, out any) error {
	_, err := c.Do(ctx, Request{Method: http.MethodPatch, Path: path,
		IdempotencyKey: idempotencyKey, Body: in, Out: out})
	return err
}

// Delete sends a DELETE and discards the answer's body.
func (c *Client) Delete(ctx context.Context, path string) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: path})
	return err
}

// Do sends r through the breaker, retrying idempotent requests on network
// errors, attempt timeouts, 502, 503, 504 and 429 with exponential backoff and
// full jitter (or the downstream's Retry-After), never waiting past ctx's
// deadline. Errors are *errs.Error: Unavailable when the downstream cannot be
// reached, failed with a 5xx, answered 429 or the breaker is open, with a
// RetryAfter hint when one is known; for a 404, 409, 412 or 422, the kind its
// status maps to, carrying the downstream's problem code, detail and extra
// members (not a 422's field errors: see clientError); Other (a 500 that
// shows nothing) for any other 4xx, since it means this call was wrong, not
// the end user's request.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	k, err := c.prepare(ctx, r)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, c.unavailable(k.wrap(attempt, err), 0)
		}
		ans, err := c.breaker.Execute(func() (*answer, error) { return c.attempt(ctx, k) })
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, c.breakerError(k.wrap(attempt, err))
		}
		if !k.retryable || attempt >= c.maxAttempts || !worthRetrying(ans, err) {
			return c.result(k, attempt, ans, err)
		}
		wait, ok := c.retryWait(ctx, attempt, ans)
		if !ok {
			return c.result(k, attempt, ans, err)
		}
		c.metrics.retries.Inc()
		c.log.DebugContext(ctx, "retrying request",
			slog.String("method", k.method), slog.String("path", k.route),
			slog.Int("attempt", attempt), slog.Duration("wait", wait),
			slog.String("reason", reason(ans, err)))
		if !backoff.Sleep(ctx, wait) {
			ra, _ := retryAfterOf(ans)
			return nil, c.unavailable(k.wrap(attempt, ctx.Err()), ra)
		}
	}
}

// call is a Request made ready to send, the same on every attempt.
type call struct {
	method    string
	url       string
	route     string // the path without its query, for logs and errors
	header    http.Header
	body      []byte
	out       any
	retryable bool
}

// wrap names the call and the attempt in err, the detail behind an *errs.Error.
// Attempt 0 means before any attempt.
func (k *call) wrap(attempt int, err error) error {
	if attempt == 0 {
		return fmt.Errorf("%s %s: %w", k.method, k.route, err)
	}
	return fmt.Errorf("%s %s (attempt %d): %w", k.method, k.route, attempt, err)
}

func (c *Client) prepare(ctx context.Context, r Request) (*call, error) {
	path := r.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	k := &call{method: r.Method, url: c.baseURL + path, route: path, out: r.Out}
	if i := strings.IndexByte(k.route, '?'); i >= 0 {
		k.route = k.route[:i]
	}
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return nil, c.internal(k.wrap(0, fmt.Errorf("encode body: %w", err)))
		}
		k.body = b
	}
	// Checked once here, so that a bad URL or method never counts against
	// the downstream in the breaker.
	if _, err := http.NewRequestWithContext(ctx, k.method, k.url, nil); err != nil {
		return nil, c.internal(k.wrap(0, err))
	}
	k.header = c.header.Clone()
	if k.header == nil {
		k.header = make(http.Header)
	}
	for name, values := range r.Header {
		k.header.Del(name)
		for _, v := range values {
			k.header.Add(name, v)
		}
	}
	if k.header.Get("Accept") == "" {
		k.header.Set("Accept", "application/json, application/problem+json")
	}
	if k.body != nil && k.header.Get("Content-Type") == "" {
		k.header.Set("Content-Type", "application/json")
	}
	if r.IdempotencyKey != "" {
		k.header.Set("Idempotency-Key", r.IdempotencyKey)
	}
	k.retryable = idempotent(k.method, k.header)
	return k, nil
}

// answer is what one attempt got back, its body read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// serverError is how an attempt answered with a 5xx reports failure to the
// breaker.
type serverError struct{ status int }

func (e *serverError) Error() string {
	return "answered " + strconv.Itoa(e.status) + " " + http.StatusText(e.status)
}

// send makes one attempt under its own timeout and reads the whole answer.
// A 5xx answer is returned together with a *serverError.
func (c *Client) send(ctx context.Context, k *call) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if k.body != nil {
		body = bytes.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, k.url, body)
	if err != nil {
		return nil, err
	}
	req.Header = k.header.Clone()
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.observe(k.method, "error", start)
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err == nil && len(b) > maxAnswerBytes {
		err = fmt.Errorf("answer larger than %d bytes", maxAnswerBytes)
	}
	if err != nil {
		c.observe(k.method, "error", start)
		return nil, fmt.Errorf("read answer: %w", err)
	}
	c.observe(k.method, strconv.Itoa(resp.StatusCode), start)
	ans := &answer{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode >= 500 {
		return ans, &serverError{status: resp.StatusCode}
	}
	return ans, nil
}

func (c *Client) observe(method, code string, start time.Time) {
	c.metrics.duration.WithLabelValues(method, code).Observe(time.Since(start).Seconds())
}

// worthRetrying reports whether an attempt's outcome may change if it is
// tried again: a network error or timeout, or a retryable status.
func worthRetrying(ans *answer, err error) bool {
	if ans == nil {
		return err != nil
	}
	return retryableStatus(ans.status)
}

// retryWait is how long to wait before retry number attempt: the
// downstream's Retry-After when it gave one, else jittered exponential
// backoff. It reports false when the wait is not worth it: Retry-After asks
// for more than the whole retry budget, or ctx's deadline comes first.
func (c *Client) retryWait(ctx context.Context, attempt int, ans *answer) (time.Duration, bool) {
	wait := c.backoff.Delay(attempt)
	if ra, ok := retryAfterOf(ans); ok {
		if ra > c.backoff.Max*time.Duration(c.maxAttempts) {
			return 0, false
		}
		wait = ra
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(deadline) {
		return 0, false
	}
	return wait, true
}

// retryAfterOf is the wait an answer's Retry-After header asks for; it
// reports false when there is no answer or no valid header.
func retryAfterOf(ans *answer) (time.Duration, bool) {
	if ans == nil {
		return 0, false
	}
	return parseRetryAfter(ans.header.Get("Retry-After"), time.Now())
}

func reason(ans *answer, err error) string {
	if ans != nil {
		return "status " + strconv.Itoa(ans.status)
	}
	return err.Error()
}
