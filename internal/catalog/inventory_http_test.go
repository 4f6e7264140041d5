package catalog

import (
	"context"
	"database/sql"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/sqldb"
)

// invLedgerRow is one row of inventory_ledger.
type invLedgerRow struct {
	onHand, reserved int64
	reason           string
	reservationID    string
}

// ledger reads a product's inventory_ledger rows, oldest first, straight
// from the service's database.
func (e *env) inventoryLedger(productID string) []invLedgerRow {
	e.t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT on_hand_delta, reserved_delta, reason, reservation_id
		FROM inventory_ledger WHERE product_id = $1 ORDER BY id`, productID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []invLedgerRow
	for rows.Next() {
		var r invLedgerRow
		var res sql.NullString
		if err := rows.Scan(&r.onHand, &r.reserved, &r.reason, &res); err != nil {
			e.t.Fatal(err)
		}
		r.reservationID = res.String
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// reserve holds quantity of a product through the internal API.
func (e *env) holdStock(reservationID, productID string, quantity int64) {
	e.t.Helper()
	r := e.call("POST", "/internal/reservations", map[string]any{
		"reservation_id": reservationID, "ttl_seconds": 600,
		"items": []map[string]any{{"product_id": productID, "quantity": quantity}}})
	expect(e.t, r, http.StatusCreated, "")
}

// adjustShortLines reads the lines of a 409 insufficient_stock.
func adjustShortLines(t testing.TB, r response) []ShortLine {
	t.Helper()
	expect(t, r, http.StatusConflict, "insufficient_stock")
	var p struct {
		Lines []ShortLine `json:"lines"`
	}
	r.json(t, &p)
	return p.Lines
}

// TestInventory: admins read and adjust stock; on_hand never drops below
// reserved (409 insufficient_stock naming the line); every change, and only
// the changes made, is in the ledger with its reason.
func TestInventory(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("INV-1", 1000, 0)
		path := "/api/v1/products/" + p.ID + "/inventory"
		adjust := func(delta any, reason string) response {
			return e.do("POST", path+"/adjustments", e.adminToken(),
				map[string]any{"delta": delta, "reason": reason})
		}

		if got, want := e.inventory(p.ID), (Inventory{ProductID: p.ID}); got != want {
			t.Errorf("new product's inventory %+v, want %+v", got, want)
		}
		expect(t, e.do("GET", path, "", nil), http.StatusUnauthorized, "unauthenticated")
		expect(t, e.do("GET", path, e.customerToken(), nil), http.StatusForbidden, "forbidden")
		expect(t, e.do("GET", "/api/v1/products/no-such-product/inventory", e.adminToken(), nil),
			http.StatusNotFound, "not_found")

		stock := func(onHand, reserved int64) Inventory {
			return Inventory{ProductID: p.ID, OnHand: onHand, Reserved: reserved,
				Available: onHand - reserved}
		}
		steps := []struct {
			delta  int64
			reason string
			want   Inventory
		}{
			{10, "delivery from supplier", stock(10, 0)},
			{-3, "damaged in storage", stock(7, 0)},
			{1_000_000, "big delivery", stock(1_000_007, 0)},
			{-1_000_000, "mistake", stock(7, 0)},
		}
		for _, s := range steps {
			r := adjust(s.delta, s.reason)
			expect(t, r, http.StatusOK, "")
			var got Inventory
			r.json(t, &got)
			if got != s.want {
				t.Errorf("after %+d: %+v, want %+v", s.delta, got, s.want)
			}
		}
		if got := e.readProduct(p.ID, "").Available; got != 7 {
			t.Errorf("the product shows available %d, want 7", got)
		}

		t.Run("refused", func(t *testing.T) {
			e := e.forT(t)
			for _, c := range []struct {
				name  string
				body  any
				field string
			}{
				{"zero delta", map[string]any{"delta": 0, "reason": "nothing"}, "delta"},
				{"no delta", map[string]any{"reason": "nothing"}, "delta"},
				{"delta too big", map[string]any{"delta": 1_000_001, "reason": "x"}, "delta"},
				{"delta too small", map[string]any{"delta": -1_000_001, "reason": "x"}, "delta"},
				{"fractional delta", map[string]any{"delta": 1.5, "reason": "x"}, "delta"},
				{"delta as a string", map[string]any{"delta": "5", "reason": "x"}, "delta"},
				{"no reason", map[string]any{"delta": 5}, "reason"},
				{"empty reason", map[string]any{"delta": 5, "reason": ""}, "reason"},
				{"blank reason", map[string]any{"delta": 5, "reason": "   "}, "reason"},
				{"long reason", map[string]any{"delta": 5, "reason": strings.Repeat("r", 201)},
					"reason"},
				{"unknown field", map[string]any{"delta": 5, "reason": "x", "on_hand": 9},
					"on_hand"},
			} {
				r := e.do("POST", path+"/adjustments", e.adminToken(), c.body)
				t.Run(c.name, func(t *testing.T) { expectInvalid(t, r, c.field) })
			}
			post := func(inventory, token string, body any) response {
				return e.do("POST", inventory+"/adjustments", token, body)
			}
			body := map[string]any{"delta": 5, "reason": "x"}
			expect(t, post(path, e.adminToken(), `{"delta":`), http.StatusBadRequest,
				"malformed_json")
			expect(t, post("/api/v1/products/no-such-product/inventory", e.adminToken(), body),
				http.StatusNotFound, "not_found")
			expect(t, post(path, "", body), http.StatusUnauthorized, "unauthenticated")
			expect(t, post(path, e.customerToken(), body), http.StatusForbidden, "forbidden")
			// Below zero, with nothing reserved.
			lines := adjustShortLines(t, adjust(-8, "too many"))
			want := []ShortLine{{ProductID: p.ID, Requested: 8, Available: 7}}
			if !slices.Equal(lines, want) {
				t.Errorf("lines %+v, want %+v", lines, want)
			}
			if got := e.inventory(p.ID); got != stock(7, 0) {
				t.Errorf("refused adjustments changed the stock: %+v", got)
			}
		})

		t.Run("reserved stock", func(t *testing.T) {
			e := e.forT(t)
			e.holdStock("inv-r1", p.ID, 5)
			if got, want := e.inventory(p.ID), stock(7, 5); got != want {
				t.Errorf("after the hold: %+v, want %+v", got, want)
			}
			lines := adjustShortLines(t, adjust(-3, "shrinkage"))
			want := []ShortLine{{ProductID: p.ID, Requested: 3, Available: 2}}
			if !slices.Equal(lines, want) {
				t.Errorf("lines %+v, want %+v", lines, want)
			}
			r := adjust(-2, "shrinkage")
			expect(t, r, http.StatusOK, "")
			var got Inventory
			r.json(t, &got)
			if want := stock(5, 5); got != want {
				t.Errorf("after taking the last free units: %+v, want %+v", got, want)
			}
			lines = adjustShortLines(t, adjust(-1, "one more"))
			want = []ShortLine{{ProductID: p.ID, Requested: 1, Available: 0}}
			if !slices.Equal(lines, want) {
				t.Errorf("lines %+v, want %+v", lines, want)
			}
			r = e.call("POST", "/internal/reservations/inv-r1/commit", nil)
			expect(t, r, http.StatusOK, "")
			if got, want := e.inventory(p.ID), (Inventory{ProductID: p.ID}); got != want {
				t.Errorf("after the commit: %+v, want %+v", got, want)
			}
			e.adjust(p.ID, 4)
		})

		t.Run("ledger", func(t *testing.T) {
			e := e.forT(t)
			want := []invLedgerRow{
				{10, 0, "delivery from supplier", ""},
				{-3, 0, "damaged in storage", ""},
				{1_000_000, 0, "big delivery", ""},
				{-1_000_000, 0, "mistake", ""},
				{0, 5, "reserved", "inv-r1"},
				{-2, 0, "shrinkage", ""},
				{-5, -5, "committed", "inv-r1"},
				{4, 0, "test", ""},
			}
			got := e.inventoryLedger(p.ID)
			if !slices.Equal(got, want) {
				t.Errorf("ledger:\n%+v\nwant\n%+v", got, want)
			}
			// The ledger adds up to the stock.
			var sum Inventory
			for _, r := range got {
				sum.OnHand += r.onHand
				sum.Reserved += r.reserved
			}
			if inv := e.inventory(p.ID); sum.OnHand != inv.OnHand || sum.Reserved != inv.Reserved {
				t.Errorf("the ledger sums to %+v, the stock is %+v", sum, inv)
			}
		})
	})
}

// TestInternalProductLookup: GET /internal/products answers every known id in
// the order asked, whatever its status, leaves unknown ids out, limits the
// ids to 1..100, and needs the service credential.
func TestInternalProductLookup(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		active := e.createProduct("INT-1", 100, 3)
		draft := e.newProduct(productBody("INT-2", 200,
			func(b map[string]any) { b["status"] = StatusDraft }))
		archived := e.createProduct("INT-3", 300, 0)
		r := e.do("DELETE", "/api/v1/products/"+archived.ID, e.adminToken(), nil)
		expect(t, r, http.StatusNoContent, "")

		hundred := make([]string, 100)
		for i := range hundred {
			hundred[i] = "unknown-" + itoa(int64(i))
		}
		hundred[99] = draft.ID
		// The answer from the database and the one from the read cache agree.
		for _, cached := range []string{"", "&cached=false", "&cached=true", "&view=summary",
			"&view=full&cached=true", "&view=summary&cached=true"} {
			lookup := func(t *testing.T, ids string) []Product {
				t.Helper()
				r := e.forT(t).call("GET", "/internal/products?ids="+ids+cached, nil)
				expect(t, r, http.StatusOK, "")
				var set struct {
					Items []Product `json:"items"`
				}
				r.json(t, &set)
				return set.Items
			}
			got := lookup(t, archived.ID+",no-such-product,"+active.ID+","+draft.ID)
			if ids := idsOf(got); !slices.Equal(ids, []string{archived.ID, active.ID, draft.ID}) {
				t.Fatalf("looked up %v", ids)
			}
			for i, want := range []struct {
				status    string
				price     int64
				available int64
			}{{StatusArchived, 300, 0}, {StatusActive, 100, 3}, {StatusDraft, 200, 0}} {
				p := got[i]
				if p.Status != want.status || p.Price.Amount != want.price ||
					p.Available != want.available {
					t.Errorf("listedItem %d: %+v, want %+v", i, p, want)
				}
			}
			repeated := idsOf(lookup(t, active.ID+","+active.ID+",,"))
			if !slices.Equal(repeated, []string{active.ID}) {
				t.Errorf("repeated id: %v", repeated)
			}
			if got := lookup(t, "no-such-product"); len(got) != 0 {
				t.Errorf("unknown id: %+v", got)
			}
			ids := idsOf(lookup(t, strings.Join(hundred, ",")))
			if !slices.Equal(ids, []string{draft.ID}) {
				t.Errorf("100 ids: %v", ids)
			}
		}
		expectInvalid(t, e.call("GET", "/internal/products?ids="+active.ID+"&cached=yes", nil), "cached")
		expectInvalid(t, e.call("GET", "/internal/products?ids="+active.ID+"&view=short", nil), "view")
		// A summary is what pricing needs and nothing more.
		for _, cached := range []string{"false", "true"} {
			r := e.call("GET", "/internal/products?view=summary&cached="+cached+"&ids="+active.ID, nil)
			expect(t, r, http.StatusOK, "")
			var set struct {
				Items []map[string]any `json:"items"`
			}
			r.json(t, &set)
			if len(set.Items) != 1 || !slices.Equal(slices.Sorted(maps.Keys(set.Items[0])),
				[]string{"available", "id", "name", "price", "sku", "status"}) {
				t.Errorf("summary, cached=%s: %v", cached, set.Items)
			}
		}

		for _, query := range []string{"", "?ids=", "?ids=,,", "?other=" + active.ID,
			"?ids=" + strings.Join(append(hundred, "one-more"), ",")} {
			expectInvalid(t, e.call("GET", "/internal/products"+query, nil), "ids")
		}

		// Without the service credential: 401, whatever else is presented.
		path := "/internal/products?ids=" + active.ID
		for _, c := range []struct {
			name    string
			headers []string
		}{
			{"nothing", nil},
			{"a wrong credential", []string{"X-Emporium-Service-Token", strings.Repeat("x", 43)}},
			{"a customer token", []string{"Authorization", "Bearer " + e.customerToken()}},
			{"an admin token", []string{"Authorization", "Bearer " + e.adminToken()}},
		} {
			r := responseOf(e.client.Do("GET", e.internal+path, nil, c.headers...))
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401: %s", c.name, r.status, r.body)
			} else if code, _ := r.problem(t); code != "unauthenticated" {
				t.Errorf("%s: code %q", c.name, code)
			}
		}
		// The public listener does not serve internal routes (asked without the
		// validating client: the document describes the internal listener's answers).
		req, err := http.NewRequest("GET", e.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(auth.ServiceTokenHeader, e.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("the public listener answered %s with %d, want 404", path, res.StatusCode)
		}
	})
}
