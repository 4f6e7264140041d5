package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// problemMediaType is the media type of every error response (RFC 9457).
const problemMediaType = "application/problem+json"

// ValidateResponse checks a response to req against the document: the status
// must be documented for the operation that serves req's method and path
// (routed as http.ServeMux would), its documented headers present and valid,
// and its body present exactly when the document gives the status content, of
// a documented content type, matching the schema. Every error response (4xx
// and 5xx) must also be application/problem+json matching the Problem schema,
// with a status member equal to the HTTP status. A request that no documented
// operation serves may only be answered with such a problem (for an unknown
// route or a wrong method; a 405 must carry Allow).
//
// Responses to HEAD requests are checked for their status and headers only.
func (d *Document) ValidateResponse(req *http.Request, status int, header http.Header,
	body []byte) error {
	op := d.match(req)
	if op == nil {
		if err := d.validateUnrouted(req, status, header, body); err != nil {
			return fmt.Errorf("openapi: %s %s (no documented route) answered %d: %w",
				req.Method, req.URL.Path, status, err)
		}
		return nil
	}
	if err := d.validate(op, req, status, header, body); err != nil {
		return fmt.Errorf("openapi: %s answered %d: %w", op.pattern, status, err)
	}
	return nil
}

// validateUnrouted checks the answer to a request no documented route serves.
func (d *Document) validateUnrouted(req *http.Request, status int, header http.Header,
	body []byte) error {
	if status < 400 {
		return errors.New("only an error problem may answer an undocumented route")
	}
	if status == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
		return errors.New("405 without an Allow header")
	}
	if req.Method == http.MethodHead {
		return nil
	}
	return d.validateProblem(status, header, body)
}

func (d *Document) validate(op *operation, req *http.Request, status int, header http.Header,
	body []byte) error {
	responses := op.route.Operation.Responses
	ref := responses.Status(status)
	if ref == nil {
		ref = responses.Default()
	}
	if ref == nil {
		return fmt.Errorf("status is not documented (documented: %s)",
			strings.Join(responses.Keys(), ", "))
	}
	if ref.Value == nil {
		return errors.New("response is not resolved")
	}
	bodyExpected := len(ref.Value.Content) > 0 && req.Method != http.MethodHead &&
		status != http.StatusNotModified
	switch {
	case bodyExpected && len(body) == 0:
		return fmt.Errorf("empty body; documented %s", strings.Join(contentTypes(ref.Value), ", "))
	case !bodyExpected && len(body) > 0 && req.Method != http.MethodHead:
		return fmt.Errorf("a body (%s) where none is documented", header.Get("Content-Type"))
	}
	if status >= 400 && req.Method != http.MethodHead {
		if err := d.validateProblem(status, header, body); err != nil {
			return err
		}
	}
	if req.Method == http.MethodHead {
		// openapi3filter skips HEAD entirely; the headers still count.
		head := req.Clone(req.Context())
		head.Method = http.MethodGet
		req, body = head, nil
		opts := *filterOptions
		opts.ExcludeResponseBody = true
		return filter(op, req, status, header, body, &opts)
	}
	return filter(op, req, status, header, body, filterOptions)
}

// filterOptions make openapi3filter strict and its schema errors short.
var filterOptions = func() *openapi3filter.Options {
	o := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	o.WithCustomSchemaErrorFunc(schemaErrorMessage)
	return o
}()

// filter runs openapi3filter's response validation: headers, content type, body.
func filter(op *operation, req *http.Request, status int, header http.Header, body []byte,
	opts *openapi3filter.Options) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, Route: op.route, Options: opts,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// validateProblem checks an error response against the Problem schema.
func (d *Document) validateProblem(status int, header http.Header, body []byte) error {
	ct := header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != problemMediaType {
		return fmt.Errorf("error response has Content-Type %q, want %s", ct, problemMediaType)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("problem body is not JSON: %w", err)
	}
	err := d.problem.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.VisitAsResponse(),
		openapi3.MultiErrors(), openapi3.SetSchemaErrorMessageCustomizer(schemaErrorMessage))
	if err != nil {
		return fmt.Errorf("problem body doesn't match the %s schema: %w", ProblemSchema, err)
	}
	if m, ok := v.(map[string]any); ok && m["status"] != float64(status) {
		return fmt.Errorf("problem status member %v differs from the HTTP status", m["status"])
	}
	return nil
}

// schemaErrorMessage shortens kin-openapi's schema errors, which otherwise
// print the whole schema and value, to the location and the reason.
func schemaErrorMessage(err *openapi3.SchemaError) string {
	if err.Origin != nil {
		return "" // the default message is the origin's, itself shortened
	}
	if errors.Unwrap(err) != nil {
		return err.Reason // the JSON Schema 2020-12 validator's reason names the location
	}
	reason := err.Reason
	if reason == "" {
		reason = fmt.Sprintf("doesn't match schema keyword %q", err.SchemaField)
	}
	return fmt.Sprintf("at %q: %s", "/"+strings.Join(err.JSONPointer(), "/"), reason)
}

// contentTypes lists the media types documented for a response.
func contentTypes(r *openapi3.Response) []string {
	var out []string
	for ct := range r.Content {
		out = append(out, ct)
	}
	slices.Sort(out)
	return out
}
