package payments

import (
	"slices"
	"testing"

	"emporium/internal/platform/openapi/openapitest"
)

// TestOpenAPI: every route the service registers, public and internal, is
// documented, nothing is documented that is not served, and the document
// keeps the house rules. The behaviour tests hold every response they
// receive to it (ValidatingTransport).
func TestOpenAPI(t *testing.T) {
	doc, err := paymentsDoc()
	if err != nil {
		t.Fatal(err)
	}
	routes := slices.Concat(NewHandler(&Service{}).Routes(), InternalHandler(&Service{}).Routes())
	openapitest.CheckRoutes(t, doc, routes)
	openapitest.CheckConventions(t, doc)
}
