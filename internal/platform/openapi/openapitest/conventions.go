package openapitest

import (
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// CheckConventions fails t for every place where doc breaks the house rules:
// each operation has a description and documents 500 and 503; every response
// documents a required X-Request-ID; every error is a problem; every 401
// documents WWW-Authenticate and every 429 and 503 Retry-After; an operation
// that needs a bearer token documents 401. One whose security also allows no
// token ("- {}") need not: there a token that fails verification counts as
// none (auth.Authenticate), so it never answers 401.
func CheckConventions(t testing.TB, doc *Document) {
	t.Helper()
	for _, pattern := range doc.Routes() {
		op := doc.ops[pattern].route.Operation
		if strings.TrimSpace(op.Description) == "" {
			t.Errorf("%s has no description", pattern)
		}
		for _, status := range []string{"500", "503"} {
			if op.Responses.Value(status) == nil {
				t.Errorf("%s does not document %s", pattern, status)
			}
		}
		for status, ref := range op.Responses.Map() {
			r := ref.Value
			if h := r.Headers["X-Request-ID"]; h == nil || !h.Value.Required {
				t.Errorf("%s %s does not document a required X-Request-ID", pattern, status)
			}
			if status >= "400" {
				if got := contentTypes(r); !slices.Equal(got, []string{problemMediaType}) {
					t.Errorf("%s %s content %q, want only %s", pattern, status, got, problemMediaType)
				}
			}
			if status == "401" && r.Headers["WWW-Authenticate"] == nil {
				t.Errorf("%s 401 does not document WWW-Authenticate", pattern)
			}
			if (status == "429" || status == "503") && r.Headers["Retry-After"] == nil {
				t.Errorf("%s %s does not document Retry-After", pattern, status)
			}
		}
		if op.Security != nil && len(*op.Security) > 0 && !anonymousAllowed(*op.Security) &&
			op.Responses.Value("401") == nil {
			t.Errorf("%s needs a bearer token but documents no 401", pattern)
		}
	}
}

// anonymousAllowed reports whether one of the alternatives in security is the
// empty requirement, which lets a request without credentials through.
func anonymousAllowed(security openapi3.SecurityRequirements) bool {
	for _, req := range security {
		if len(req) == 0 {
			return true
		}
	}
	return false
}
