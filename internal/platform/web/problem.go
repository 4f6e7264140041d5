// Package web holds Emporium's HTTP conventions: handlers that return errors,
// RFC 9457 problem responses, strict JSON decoding, the middleware stack and a
// server with graceful shutdown.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"emporium/internal/platform/errs"
)

// Problem is an RFC 9457 problem document with Emporium's code member.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail,omitempty"`
	Code   string            `json:"code"`
	Errors []errs.FieldError `json:"errors,omitempty"`
	// Extra members, such as "lines" on insufficient_stock, are written at the top level.
	Extra map[string]any `json:"-"`
}

// MarshalJSON writes the standard members and the extra ones side by side.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	extra := maps.Clone(p.Extra)
	maps.Copy(extra, m) // standard members win over extras of the same name
	return json.Marshal(extra)
}

// statusOf maps each error kind to its HTTP status and generic code.
var statusOf = map[errs.Kind]struct {
	status int
	code   string
}{
	errs.Other:              {http.StatusInternalServerError, "internal"},
	errs.Invalid:            {http.StatusUnprocessableEntity, "validation_failed"},
	errs.Malformed:          {http.StatusBadRequest, "malformed_json"},
	errs.NotFound:           {http.StatusNotFound, "not_found"},
	errs.Conflict:           {http.StatusConflict, "conflict"},
	errs.PreconditionFailed: {http.StatusPreconditionFailed, "precondition_failed"},
	errs.Unauthenticated:    {http.StatusUnauthorized, "unauthenticated"},
	errs.Forbidden:          {http.StatusForbidden, "forbidden"},
	errs.TooLarge:           {http.StatusRequestEntityTooLarge, "body_too_large"},
	errs.UnsupportedMedia:   {http.StatusUnsupportedMediaType, "unsupported_media_type"},
	errs.RateLimited:        {http.StatusTooManyRequests, "rate_limited"},
	errs.Unavailable:        {http.StatusServiceUnavailable, "unavailable"},
}

// defaultRetryAfter is what 429 and 503 answers carry when the error names no time.
const defaultRetryAfter = 5 * time.Second

// ProblemFor builds the problem that answers err. Errors without a kind become a
// 500 whose detail reveals nothing.
func ProblemFor(err error) Problem {
	var e *errs.Error
	if !errors.As(err, &e) {
		e = &errs.Error{Kind: errs.Other}
	}
	s, ok := statusOf[e.Kind]
	if !ok {
		s = statusOf[errs.Other]
	}
	p := Problem{Status: s.status, Code: e.Code, Detail: e.Message, Errors: e.Fields,
		Extra: e.Extra}
	if p.Code == "" {
		p.Code = s.code
	}
	if e.Kind == errs.Other {
		p.Code, p.Detail, p.Errors, p.Extra = "internal", "an internal error occurred", nil, nil
	}
	p.Type = "/problems/" + p.Code
	p.Title = http.StatusText(p.Status)
	return p
}

// WriteProblem writes p as application/problem+json.
func WriteProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// errDeadline answers a request whose deadline (see Deadline) passed before it
// had an answer: a dependency too slow to answer within the request deadline
// is a dependency down, so it is API.md's 503 unavailable with Retry-After,
// not a 500 and not a 504 (clients retry one code, not two).
var errDeadline = errs.New(errs.Unavailable, "unavailable",
	"the request could not be completed in time; try again later")

// StatusClientClosed is what the access log, metrics and traces record for a
// request whose client left before it was answered (Nginx's 499). The client
// never sees it.
const StatusClientClosed = 499

// WriteError answers r with the problem for err, adding the headers its kind
// calls for, and logs it when it is a server error (5xx).
//
// When r's context has ended, the end decides: if the client went away
// (context.Canceled), no one is left to answer, so whatever err is, it is
// only recorded as StatusClientClosed and logged at info, not as a server
// error. Past r's deadline (context.DeadlineExceeded), an error without a
// kind (a 500) is about the deadline, whatever the handler wrapped, and is
// answered as the 503 of a dependency down.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	switch r.Context().Err() {
	case context.Canceled:
		Logger(r.Context()).InfoContext(r.Context(), "client went away",
			slog.String("error", err.Error()))
		if !started(w) {
			w.WriteHeader(StatusClientClosed)
		}
		return
	case context.DeadlineExceeded:
		if errs.KindOf(err) == errs.Other {
			err = fmt.Errorf("%w: %w", errDeadline, err)
		}
	}
	p := ProblemFor(err)
	if p.Status >= 500 {
		Logger(r.Context()).ErrorContext(r.Context(), "request failed",
			slog.Int("status", p.Status), slog.String("error", err.Error()))
	}
	if started(w) {
		// The handler already sent a status; all that is left is to log.
		Logger(r.Context()).WarnContext(r.Context(), "error after response started",
			slog.String("error", err.Error()))
		return
	}
	switch p.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="emporium"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		d := defaultRetryAfter
		var e *errs.Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			d = e.RetryAfter
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
	WriteProblem(w, p)
}

// started reports whether w (a StatusRecorder, when the stack wraps it) has
// sent its status already.
func started(w http.ResponseWriter) bool {
	s, ok := w.(interface{ Started() bool })
	return ok && s.Started()
}
