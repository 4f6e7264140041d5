// Package openapitest loads the OpenAPI 3.1 documents Emporium's services
// publish and holds the handlers to them in tests: CheckRoutes compares
// the documented routes with the registered ones, and ValidateResponse (behind
// ValidatingTransport and ValidatingHandler) checks every response a test
// receives against the document.
//
// A document's paths are the request paths as served (no server URL prefix),
// written so that "METHOD path" is a Go 1.22 http.ServeMux pattern.
package openapitest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// ProblemSchema is the component every document defines for RFC 9457 problem
// responses; every error response must match it.
const ProblemSchema = "Problem"

// Document is a loaded and validated OpenAPI 3.1 document. It is safe for
// concurrent use.
type Document struct {
	spec    *openapi3.T
	mux     *http.ServeMux        // the documented routes, for matching requests
	ops     map[string]*operation // by ServeMux pattern
	routes  []string
	problem *openapi3.Schema
}

// operation is one documented route.
type operation struct {
	pattern string
	route   *routers.Route
}

// ServeHTTP is never called: the mux is only asked which pattern a request matches.
func (*operation) ServeHTTP(http.ResponseWriter, *http.Request) {}

// Load parses doc (YAML or JSON), validates it as an OpenAPI 3.1 document and
// checks Emporium's rules: every operation has an operationId, a summary and
// at least one response; every "METHOD path" is a valid, non-conflicting
// ServeMux pattern; components/schemas/Problem exists. External references
// are not followed.
func Load(doc []byte) (*Document, error) {
	d, err := load(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: load: %w", err)
	}
	return d, nil
}

func load(doc []byte) (*Document, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	spec, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.1.") {
		return nil, fmt.Errorf("openapi version %q, want 3.1.x", spec.OpenAPI)
	}
	if err := spec.Validate(context.Background()); err != nil {
		return nil, err
	}
	d := &Document{spec: spec, mux: http.NewServeMux(), ops: map[string]*operation{}}
	if s := spec.Components.Schemas[ProblemSchema]; s != nil && s.Value != nil {
		d.problem = s.Value
	} else {
		return nil, errors.New("components/schemas/" + ProblemSchema + " is missing")
	}
	var problems []error
	for _, path := range spec.Paths.Keys() {
		item := spec.Paths.Value(path)
		for method, op := range item.Operations() {
			if err := d.add(path, item, method, op); err != nil {
				problems = append(problems, err)
			}
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	slices.SortFunc(d.routes, compareRoutes)
	return d, nil
}

// add records one operation, checking the rules Load documents.
func (d *Document) add(path string, item *openapi3.PathItem, method string,
	op *openapi3.Operation) error {
	pattern := method + " " + path
	var missing []string
	if op.OperationID == "" {
		missing = append(missing, "operationId")
	}
	if strings.TrimSpace(op.Summary) == "" {
		missing = append(missing, "summary")
	}
	if op.Responses == nil || op.Responses.Len() == 0 {
		missing = append(missing, "responses")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: no %s", pattern, strings.Join(missing, ", "))
	}
	o := &operation{pattern: pattern, route: &routers.Route{
		Spec: d.spec, Path: path, PathItem: item, Method: method, Operation: op,
	}}
	if err := register(d.mux, pattern, o); err != nil {
		return err
	}
	d.ops[pattern] = o
	d.routes = append(d.routes, pattern)
	return nil
}

// register adds pattern to mux, turning the mux's panic on an invalid or
// conflicting pattern into an error.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: not a usable ServeMux pattern: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// compareRoutes orders "METHOD /path" strings by path, then method.
func compareRoutes(a, b string) int {
	am, ap, _ := strings.Cut(a, " ")
	bm, bp, _ := strings.Cut(b, " ")
	if c := strings.Compare(ap, bp); c != 0 {
		return c
	}
	return strings.Compare(am, bm)
}

// Routes returns the documented operations as "METHOD /path/{param}" strings,
// the form of http.ServeMux patterns and web.Router.Routes, sorted by path and
// then method.
func (d *Document) Routes() []string {
	return slices.Clone(d.routes)
}

// match returns the documented operation that serves r, as http.ServeMux
// would route it, or nil.
func (d *Document) match(r *http.Request) *operation {
	h, _ := d.mux.Handler(r)
	op, _ := h.(*operation)
	return op
}
