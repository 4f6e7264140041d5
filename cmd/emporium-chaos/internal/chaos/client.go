package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"emporium/internal/platform/backoff"
)

// client speaks to the gateway and records every request in the history.
type client struct {
	base    string
	http    *http.Client
	history *History
	actor   string
	token   string
	userID  string
}

// answer is what a request got: Status 0 when no answer came.
type answer struct {
	Status int
	Body   []byte
	Err    error
}

// code is the problem's code of an error answer.
func (a answer) code() string {
	var p struct {
		Code string `json:"code"`
	}
	json.Unmarshal(a.Body, &p)
	return p.Code
}

func (a answer) decode(v any) bool { return a.Status < 300 && json.Unmarshal(a.Body, v) == nil }

// do sends a request and records it as op (Status and Err filled in).
func (c *client) do(ctx context.Context, op Op, method, path string, body any, header http.Header) answer {
	var reader io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic(err) // the workload's own bodies always marshal
		}
		reader = bytes.NewReader(b)
	}
	a := c.send(ctx, method, path, reader, body != nil, header)
	op.At, op.Actor, op.Customer, op.Status = time.Now(), c.actor, c.userID, a.Status
	if a.Err != nil {
		op.Err = a.Err.Error()
	}
	c.history.Add(op)
	return a
}

func (c *client) send(ctx context.Context, method, path string, body io.Reader, isJSON bool,
	header http.Header) answer {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return answer{Err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return answer{Err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{Err: err}
	}
	return answer{Status: res.StatusCode, Body: b}
}

// retryable says an answer is worth the same request again: none came,
// the server failed, or it asked to wait.
func retryable(a answer) bool {
	return a.Status == 0 || a.Status >= 500 || a.Status == http.StatusTooManyRequests ||
		a.code() == "request_in_progress"
}

// until checks cond every interval until it holds (true), timeout passes or
// ctx is done (false).
func until(ctx context.Context, timeout, every time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !cond() {
		if !backoff.Sleep(ctx, every) {
			return false
		}
	}
	return true
}
