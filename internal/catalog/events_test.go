package catalog

import (
	"encoding/json"
	"net/http"
	"testing"

	"emporium/internal/event"
	"emporium/internal/platform/sqldb"
)

// outboxEvents returns the events of a type the service wrote, oldest first.
func outboxEvents(t *testing.T, e *env, typ string) []event.Envelope {
	t.Helper()
	db, err := sqldb.Open(t.Context(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), "SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq", typ)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []event.Envelope
	for rows.Next() {
		var payload string
		var env event.Envelope
		if err := rows.Scan(&payload); err != nil || json.Unmarshal([]byte(payload), &env) != nil {
			t.Fatalf("outbox row: %v %q", err, payload)
		}
		out = append(out, env)
	}
	return out
}

// TestProductEvents: catalog.product.updated is written when a product is
// created and on every change to it, whatever the change (other replicas drop
// their cached copies on it), with the new version; a PATCH that changes
// nothing writes none.
func TestProductEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("EV-1", 1000, 0)
		patch := func(body string) {
			expect(t, e.do("PATCH", "/api/v1/products/"+p.ID, e.adminToken(), body), http.StatusOK, "")
		}
		patch(`{"description":"only words change"}`) // announced too: every change is
		patch(`{"description":"only words change"}`) // no change: not announced
		patch(`{"price":{"amount":1200,"currency":"USD"}}`)
		patch(`{"name":"Renamed"}`)
		expect(t, e.do("DELETE", "/api/v1/products/"+p.ID, e.adminToken(), nil), http.StatusNoContent, "")

		var got []event.ProductChanged
		for _, env := range outboxEvents(t, e, event.ProductUpdated) {
			var pc event.ProductChanged
			if err := env.Decode(&pc); err != nil {
				t.Fatal(err)
			}
			got = append(got, pc)
		}
		want := []event.ProductChanged{
			{ProductID: p.ID, SKU: "EV-1", Name: "Product EV-1", Price: Money{Amount: 1000, Currency: "USD"}, Status: "active", Version: 1},
			{ProductID: p.ID, SKU: "EV-1", Name: "Product EV-1", Price: Money{Amount: 1000, Currency: "USD"}, Status: "active", Version: 2},
			{ProductID: p.ID, SKU: "EV-1", Name: "Product EV-1", Price: Money{Amount: 1200, Currency: "USD"}, Status: "active", Version: 3},
			{ProductID: p.ID, SKU: "EV-1", Name: "Renamed", Price: Money{Amount: 1200, Currency: "USD"}, Status: "active", Version: 4},
			{ProductID: p.ID, SKU: "EV-1", Name: "Renamed", Price: Money{Amount: 1200, Currency: "USD"}, Status: "archived", Version: 5},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d product events %+v, want %d", len(got), got, len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// TestStockEvents: catalog.stock.changed is written when availability crosses
// zero, whichever way and whatever moved it, and only then.
func TestStockEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("EV-2", 1000, 0)
		e.adjust(p.ID, 2) // 0 → 2: in stock
		e.adjust(p.ID, 3) // 2 → 5: no event
		reserve := func(id string, qty int) {
			expect(t, e.call("POST", "/internal/reservations", map[string]any{"reservation_id": id,
				"items": []map[string]any{{"product_id": p.ID, "quantity": qty}}, "ttl_seconds": 60}),
				http.StatusCreated, "")
		}
		reserve("ev-a", 4)                                                                       // 5 → 1: no event
		reserve("ev-b", 1)                                                                       // 1 → 0: out of stock
		expect(t, e.call("POST", "/internal/reservations/ev-b/release", nil), http.StatusOK, "") // 0 → 1
		expect(t, e.call("POST", "/internal/reservations/ev-a/commit", nil), http.StatusOK, "")  // stays 1
		e.adjust(p.ID, -1)                                                                       // 1 → 0

		var got []event.StockLevel
		for _, env := range outboxEvents(t, e, event.StockChanged) {
			var sl event.StockLevel
			if err := env.Decode(&sl); err != nil {
				t.Fatal(err)
			}
			got = append(got, sl)
		}
		want := []event.StockLevel{
			{ProductID: p.ID, Available: 2, InStock: true},
			{ProductID: p.ID, Available: 0, InStock: false},
			{ProductID: p.ID, Available: 1, InStock: true},
			{ProductID: p.ID, Available: 0, InStock: false},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d stock events %+v, want %+v", len(got), got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}
