// Package errs gives errors a kind that the HTTP layer turns into a status and a
// stable problem code. Domain packages declare sentinels with New and wrap them
// with fmt.Errorf("operation: %w", err); callers test with errors.Is and errors.As.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds of error. Other is anything unexpected and becomes a 500.
const (
	Other              Kind = iota
	Invalid                 // the request is well-formed but breaks a rule (422)
	Malformed               // the request cannot be parsed (400)
	NotFound                // the thing does not exist, or the caller may not know it does (404)
	Conflict                // the state of the resource forbids the operation (409)
	PreconditionFailed      // a conditional request's precondition does not hold (412)
	Unauthenticated         // no valid credentials (401)
	Forbidden               // valid credentials, not allowed (403)
	TooLarge                // the request body is too large (413)
	UnsupportedMedia        // the request body is not JSON (415)
	RateLimited             // too many requests; RetryAfter says when to come back (429)
	Unavailable             // a dependency is down; RetryAfter says when to come back (503)
)

var kindNames = [...]string{
	Other: "other", Invalid: "invalid", Malformed: "malformed", NotFound: "not found",
	Conflict: "conflict", PreconditionFailed: "precondition failed",
	Unauthenticated: "unauthenticated", Forbidden: "forbidden", TooLarge: "too large", UnsupportedMedia: "unsupported media",
	RateLimited: "rate limited", Unavailable: "unavailable",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// FieldError names one invalid field of a request: a JSON path with dots for
// body fields, the parameter name for query parameters.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error with a kind and a stable code (API.md's snake_case codes).
// Message is safe to show to a client; Err, if set, is the cause and is not.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration
	// Extra holds additional problem members, such as "lines" for insufficient_stock.
	Extra map[string]any
	Err   error
}

// New returns an error of the given kind and code, typically a package-level sentinel.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// With returns a copy of e that wraps cause (so errors.Is(copy, e) holds) and
// carries the given extra problem members.
func (e *Error) With(extra map[string]any) *Error {
	c := *e
	c.Err = e
	c.Extra = extra
	return &c
}

// KindOf returns the kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// E builds an error of a kind with a message, wrapping cause (which may be nil).
// An empty code is answered with the kind's generic code.
func E(kind Kind, code, message string, cause error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: cause}
}

// Validation collects field errors; Err returns nil when there are none.
//
// The fields are listed in the order they were added, which is the order a
// client reads best when checks follow the request type's fields. That
// order must not depend on chance: add in a fixed order, never while ranging
// over a map (range over slices.Sorted(maps.Keys(m)) instead), so the same
// request always gets the same answer.
type Validation struct {
	fields []FieldError
}

// Add records that field is invalid.
func (v *Validation) Add(field, message string) {
	v.fields = append(v.fields, FieldError{Field: field, Message: message})
}

// Check records message for field when ok is false.
func (v *Validation) Check(ok bool, field, message string) {
	if !ok {
		v.Add(field, message)
	}
}

// Err returns a validation_failed error with the collected fields, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Code: "validation_failed", Message: "the request is not valid",
		Fields: v.fields}
}

// Invalidf returns a validation_failed error for one field.
func Invalidf(field, format string, args ...any) error {
	var v Validation
	v.Add(field, fmt.Sprintf(format, args...))
	return v.Err()
}
