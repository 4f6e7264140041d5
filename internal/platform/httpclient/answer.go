package httpclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"emporium/internal/platform/errs"
)

// passedThrough maps the 4xx statuses that are domain outcomes — what the
// downstream decided about the thing asked for, which the end user may hear —
// to error kinds, and to the generic codes used when the answer is not a
// problem document. Every other 4xx says that this service made a bad call
// (see badCall).
var passedThrough = map[int]struct {
	kind errs.Kind
	code string
}{
	http.StatusNotFound:            {errs.NotFound, "not_found"},
	http.StatusGone:                {errs.NotFound, "not_found"},
	http.StatusConflict:            {errs.Conflict, "conflict"},
	http.StatusPreconditionFailed:  {errs.PreconditionFailed, "precondition_failed"},
	http.StatusUnprocessableEntity: {errs.Invalid, "validation_failed"},
}

// problemMembers are the RFC 9457 and Emporium members that have their own
// place in errs.Error; every other member of a problem becomes an extra.
var problemMembers = map[string]bool{
	"type": true, "title": true, "status": true, "detail": true, "instance": true,
	"code": true, "errors": true,
}

// result turns the last attempt's outcome into what Do returns.
func (c *Client) result(k *call, attempt int, ans *answer, err error) (*Response, error) {
	switch {
	case ans == nil:
		return nil, c.unavailable(k.wrap(attempt, err), 0)
	case ans.status >= 500:
		ra, _ := retryAfterOf(ans)
		return nil, c.unavailable(k.wrap(attempt, err), ra)
	case ans.status >= 400:
		return nil, c.clientError(k, attempt, ans)
	case ans.status < 200 || ans.status >= 300:
		return nil, c.internal(
			k.wrap(attempt, fmt.Errorf("unexpected answer %d", ans.status)))
	}
	if k.out != nil && len(ans.body) > 0 && ans.status != http.StatusNoContent {
		if err := json.Unmarshal(ans.body, k.out); err != nil {
			return nil, c.internal(
				k.wrap(attempt, fmt.Errorf("decode answer: %w", err)))
		}
	}
	return &Response{StatusCode: ans.status, Header: ans.header}, nil
}

// clientError is the *errs.Error for a 4xx answer. A domain outcome (404,
// 409, 412, 422) keeps its kind and the downstream's problem members (its
// code, detail and extras such as insufficient_stock's lines), so the
// caller's handler answers what the downstream answered; any other 4xx is a
// badCall.
//
// The one member not passed on is the field list of a 422: its fields name
// the internal request this service built, not the end user's (the user sent
// no "items.0.quantity" or "ttl_seconds"), and an answer that named them
// would send the user looking for fields that are not theirs. The end user
// gets the 422 with its code and detail and no field list; the fields go
// into the cause, for the log. A caller that can name the user's own field
// checks it before calling, or maps the error itself.
func (c *Client) clientError(k *call, attempt int, ans *answer) *errs.Error {
	sk, ok := passedThrough[ans.status]
	if !ok {
		return c.badCall(k, attempt, ans)
	}
	e := &errs.Error{
		Kind:    sk.kind,
		Code:    sk.code,
		Message: strings.ToLower(http.StatusText(ans.status)),
		Err:     k.wrap(attempt, fmt.Errorf("%s answered %d", c.name, ans.status)),
	}
	if isProblem(ans.header) {
		readProblem(ans.body, e)
	}
	if len(e.Fields) > 0 {
		names := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			names[i] = f.Field + ": " + f.Message
		}
		e.Err = fmt.Errorf("%w (fields %s)", e.Err, strings.Join(names, "; "))
		e.Fields = nil
	}
	return e
}

// badCall is the error for a 4xx that is about this service, not about the
// end user's request: the end user can do nothing about it, and must not take
// it for a verdict on their own request or token. A 429 means a peer is rate
// limiting this service: the peer is Unavailable, with its Retry-After (503).
// Any other status — 400, 401 (a wrong service credential), 403, 405, 413,
// 415, … — means this service called its peer wrongly: Other (500). Either
// way the downstream's status, code and detail go into the cause, for the
// log, and nowhere else.
func (c *Client) badCall(k *call, attempt int, ans *answer) *errs.Error {
	said := fmt.Sprintf("%s answered %d %s", c.name, ans.status, http.StatusText(ans.status))
	if isProblem(ans.header) {
		var p errs.Error
		readProblem(ans.body, &p)
		if p.Code != "" || p.Message != "" {
			said += " (" + p.Code + ": " + p.Message + ")"
		}
	}
	cause := k.wrap(attempt, errors.New(said))
	if ans.status == http.StatusTooManyRequests {
		ra, _ := retryAfterOf(ans)
		return c.unavailable(cause, ra)
	}
	return c.internal(cause)
}

func isProblem(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/problem+json"
}

// readProblem copies a problem document's code, detail, field errors and
// extra members into e. Extra members keep their JSON as json.RawMessage, so
// they are written back unchanged and a caller can decode them into its own
// types. A body that is not a JSON object leaves e as it is.
func readProblem(body []byte, e *errs.Error) {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil {
		return
	}
	var p struct {
		Title  string            `json:"title"`
		Detail string            `json:"detail"`
		Code   string            `json:"code"`
		Errors []errs.FieldError `json:"errors"`
	}
	// Members of unexpected types are ignored one by one rather than
	// dropping the whole problem.
	for name, dst := range map[string]any{
		"title": &p.Title, "detail": &p.Detail, "code": &p.Code, "errors": &p.Errors,
	} {
		if raw, ok := members[name]; ok {
			_ = json.Unmarshal(raw, dst)
		}
	}
	if p.Code != "" {
		e.Code = p.Code
	}
	switch {
	case p.Detail != "":
		e.Message = p.Detail
	case p.Title != "":
		e.Message = p.Title
	}
	e.Fields = p.Errors
	for name, raw := range members {
		if problemMembers[name] {
			continue
		}
		if e.Extra == nil {
			e.Extra = make(map[string]any)
		}
		e.Extra[name] = raw
	}
}
