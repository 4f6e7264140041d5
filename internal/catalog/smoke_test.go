package catalog

import (
	"net/http"
	"testing"

	"emporium/internal/platform/openapi/openapitest"
)

// TestOpenAPI: every route the service registers, public and internal, is
// documented, nothing is documented that is not served, and the document
// keeps the house rules.
func TestOpenAPI(t *testing.T) {
	doc, err := catalogDoc()
	if err != nil {
		t.Fatal(err)
	}
	routes := append(NewHandler(&Service{}).Routes(), InternalHandler(&Service{}).Routes()...)
	openapitest.CheckRoutes(t, doc, routes)
	openapitest.CheckConventions(t, doc)
}

// TestReserveCommitSmoke walks one product through stock, a hold and a sale.
func TestReserveCommitSmoke(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("SMOKE-1", 1999, 10)
		r := e.call("POST", "/internal/reservations", map[string]any{"reservation_id": "r1",
			"items": []map[string]any{{"product_id": p.ID, "quantity": 3}}, "ttl_seconds": 60})
		expect(t, r, http.StatusCreated, "")
		if inv := e.inventory(p.ID); inv != (Inventory{ProductID: p.ID, OnHand: 10, Reserved: 3, Available: 7}) {
			t.Errorf("after the hold: %+v", inv)
		}
		expect(t, e.call("POST", "/internal/reservations/r1/commit", nil), http.StatusOK, "")
		if inv := e.inventory(p.ID); inv != (Inventory{ProductID: p.ID, OnHand: 7, Reserved: 0, Available: 7}) {
			t.Errorf("after the commit: %+v", inv)
		}
		expect(t, e.call("POST", "/internal/reservations/r1/release", nil), http.StatusConflict, "invalid_transition")
	})
}
