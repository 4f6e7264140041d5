package cart

import (
	"testing"

	"emporium/internal/platform/openapi/openapitest"
)

// TestOpenAPI: every route the service registers is documented, nothing is
// documented that is not served, and the document keeps the house rules. The
// behaviour tests hold every response they receive to it (ValidatingTransport).
func TestOpenAPI(t *testing.T) {
	doc, err := cartDoc()
	if err != nil {
		t.Fatal(err)
	}
	routes := append(NewHandler(&Service{}).Routes(), InternalHandler(&Service{}).Routes()...)
	openapitest.CheckRoutes(t, doc, routes)
	openapitest.CheckConventions(t, doc)
}
