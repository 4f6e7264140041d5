package notifications

import (
	"sync"
	"testing"

	"emporium/internal/platform/openapi/openapitest"
)

var notificationsDoc = sync.OnceValues(func() (*openapitest.Document, error) {
	return openapitest.Load(OpenAPI)
})

// TestOpenAPI: every route the service registers is documented, nothing is
// documented that is not served, and the document keeps the house rules. The
// behaviour tests hold every response they receive to it (ValidatingTransport).
func TestOpenAPI(t *testing.T) {
	doc, err := notificationsDoc()
	if err != nil {
		t.Fatal(err)
	}
	openapitest.CheckRoutes(t, doc, NewHandler(&Service{}).Routes())
	openapitest.CheckConventions(t, doc)
}
