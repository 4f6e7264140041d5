package orders

import (
	"sync"
	"testing"

	"emporium/internal/platform/openapi/openapitest"
)

var ordersDoc = sync.OnceValues(func() (*openapitest.Document, error) { return openapitest.Load(OpenAPI) })

// TestOpenAPI: every route the service registers is documented, nothing is
// documented that is not served, and the document keeps the house rules.
func TestOpenAPI(t *testing.T) {
	doc, err := ordersDoc()
	if err != nil {
		t.Fatal(err)
	}
	openapitest.CheckRoutes(t, doc, NewHandler(&Service{}).Routes())
	openapitest.CheckConventions(t, doc)
}
