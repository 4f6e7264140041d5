package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/testkit"
)

// reserveBody is the body of POST /internal/reservations.
func reserveBody(id string, ttl int, lines ...Line) map[string]any {
	items := make([]map[string]any, len(lines))
	for i, l := range lines {
		items[i] = map[string]any{"product_id": l.ProductID, "quantity": l.Quantity}
	}
	return map[string]any{"reservation_id": id, "items": items, "ttl_seconds": ttl}
}

// ledgerRow is one row of the inventory ledger.
type ledgerRow struct {
	Product       string
	OnHandDelta   int64
	ReservedDelta int64
	Reason        string
	Reservation   string
}

func (l ledgerRow) String() string {
	return fmt.Sprintf("%s %+d/%+d %s %s", l.Reason, l.OnHandDelta, l.ReservedDelta, l.Reservation,
		l.Product)
}

// stockLedger returns the ledger rows of a product, sorted for comparison.
func (e *env) stockLedger(productID string) []ledgerRow {
	e.t.Helper()
	rows, err := e.svc.db.QueryContext(context.Background(), `SELECT product_id, on_hand_delta,
		reserved_delta, reason, COALESCE(reservation_id, '') FROM inventory_ledger WHERE product_id = $1`,
		productID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []ledgerRow
	for rows.Next() {
		var l ledgerRow
		err := rows.Scan(&l.Product, &l.OnHandDelta, &l.ReservedDelta, &l.Reason, &l.Reservation)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return sortLedger(out)
}

func sortLedger(rows []ledgerRow) []ledgerRow {
	slices.SortFunc(rows, func(a, b ledgerRow) int { return strings.Compare(a.String(), b.String()) })
	return rows
}

// reservationStatus reads a reservation's status straight from the database.
func (e *env) reservationStatus(id string) string {
	e.t.Helper()
	var status string
	err := e.svc.db.QueryRowContext(context.Background(),
		"SELECT status FROM reservations WHERE id = $1", id).Scan(&status)
	if err != nil {
		e.t.Fatalf("reservation %s: %v", id, err)
	}
	return status
}

// tryCall is e.call for goroutines other than the test's: it returns a
// transport failure instead of ending the test. Answers are still checked
// against the OpenAPI document.
func (e *env) tryCall(method, path string, body any) (response, error) {
	return e.trySend(e.internal, method, path, body, auth.ServiceTokenHeader, e.token)
}

// trySend is e.send for goroutines other than the test's, with headers as
// name, value pairs.
func (e *env) trySend(base, method, path string, body any, headers ...string) (response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.HTTP.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

// shortLines decodes the lines of a 409 insufficient_stock, keyed by product.
func shortLines(t testing.TB, r response) map[string]ShortLine {
	t.Helper()
	var p struct {
		Lines []ShortLine `json:"lines"`
	}
	r.json(t, &p)
	out := map[string]ShortLine{}
	for _, l := range p.Lines {
		if _, dup := out[l.ProductID]; dup {
			t.Errorf("product %s is named twice in %s", l.ProductID, r.body)
		}
		out[l.ProductID] = l
	}
	return out
}

// newManualClock is a clock the test moves by hand, far from the real one.
func newManualClock() *testkit.Clock {
	return testkit.NewClockAt(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// draftProduct makes a draft product with stock through the API.
func (e *env) draftProduct(sku string, stock int64) *Product {
	e.t.Helper()
	r := e.do("POST", "/api/v1/products", e.adminToken(), map[string]any{
		"sku": sku, "name": "Draft " + sku, "price": map[string]any{"amount": 500, "currency": "USD"}})
	expect(e.t, r, http.StatusCreated, "")
	var p Product
	r.json(e.t, &p)
	e.adjust(p.ID, stock)
	return &p
}

func TestReserveAllOrNothing(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		a := e.createProduct("AON-A", 1000, 5)
		b := e.createProduct("AON-B", 1000, 2)
		c := e.createProduct("AON-C", 1000, 0)
		draft := e.draftProduct("AON-DRAFT", 3)
		archived := e.createProduct("AON-ARCH", 1000, 4)
		expect(t, e.do("DELETE", "/api/v1/products/"+archived.ID, e.adminToken(), nil),
			http.StatusNoContent, "")

		tests := []struct {
			name  string
			lines []Line
			short []ShortLine
		}{
			{"one line of three is short", []Line{{a.ID, 3}, {b.ID, 5}, {c.ID, 1}},
				[]ShortLine{{b.ID, 5, 2}, {c.ID, 1, 0}}},
			{"the last unit of each but one line over", []Line{{b.ID, 2}, {a.ID, 6}},
				[]ShortLine{{a.ID, 6, 5}}},
			{"a draft product counts as none", []Line{{a.ID, 1}, {draft.ID, 1}},
				[]ShortLine{{draft.ID, 1, 0}}},
			{"an archived product counts as none", []Line{{archived.ID, 2}, {b.ID, 1}},
				[]ShortLine{{archived.ID, 2, 0}}},
			{"every line short", []Line{{a.ID, 9}, {b.ID, 9}, {draft.ID, 9}},
				[]ShortLine{{a.ID, 9, 5}, {b.ID, 9, 2}, {draft.ID, 9, 0}}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := fmt.Sprintf("aon-%d", i)
				r := e.call("POST", "/internal/reservations", reserveBody(id, 60, tt.lines...))
				expect(t, r, http.StatusConflict, "insufficient_stock")
				want := map[string]ShortLine{}
				for _, l := range tt.short {
					want[l.ProductID] = l
				}
				if got := shortLines(t, r); !reflect.DeepEqual(got, want) {
					t.Errorf("lines = %v, want %v", got, want)
				}
				expect(t, e.call("GET", "/internal/reservations/"+id, nil), http.StatusNotFound, "not_found")
			})
		}

		// Nothing was held, and the ledger only knows the stock adjustments.
		for _, p := range []struct {
			id    string
			stock int64
		}{{a.ID, 5}, {b.ID, 2}, {c.ID, 0}, {draft.ID, 3}, {archived.ID, 4}} {
			want := Inventory{ProductID: p.id, OnHand: p.stock, Available: p.stock}
			if got := e.inventory(p.id); got != want {
				t.Errorf("inventory = %+v, want %+v", got, want)
			}
			for _, l := range e.stockLedger(p.id) {
				if l.Reason != "test" {
					t.Errorf("ledger of %s has %v, want only the adjustments", p.id, l)
				}
			}
		}

		// A line within stock next to a short one did not take the stock away:
		// the same line alone succeeds.
		expect(t, e.call("POST", "/internal/reservations", reserveBody("aon-ok", 60, Line{a.ID, 5})),
			http.StatusCreated, "")
	})
}

func TestReserveInvalid(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		a := e.createProduct("INV-A", 1000, 5)
		line := func(id string, q int64) map[string]any {
			return map[string]any{"product_id": id, "quantity": q}
		}
		tests := []struct {
			name  string
			body  any
			field string
		}{
			{"unknown product", reserveBody("x", 60, Line{a.ID, 1}, Line{"no-such-product", 1}), "items"},
			{"empty items", map[string]any{"reservation_id": "x", "items": []any{}, "ttl_seconds": 60},
				"items"},
			{"no items", map[string]any{"reservation_id": "x", "ttl_seconds": 60}, "items"},
			{"duplicate product", reserveBody("x", 60, Line{a.ID, 1}, Line{a.ID, 2}), "items"},
			{"quantity 0", reserveBody("x", 60, Line{a.ID, 0}), "items"},
			{"negative quantity", reserveBody("x", 60, Line{a.ID, -1}), "items"},
			{"quantity 10001", map[string]any{"reservation_id": "x", "ttl_seconds": 60,
				"items": []any{line(a.ID, 10001)}}, "items"},
			{"ttl 0", reserveBody("x", 0, Line{a.ID, 1}), "ttl_seconds"},
			{"ttl over a day", reserveBody("x", 86401, Line{a.ID, 1}), "ttl_seconds"},
			{"no reservation id", reserveBody("", 60, Line{a.ID, 1}), "reservation_id"},
			{"reservation id too long", reserveBody(strings.Repeat("r", 101), 60, Line{a.ID, 1}),
				"reservation_id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.call("POST", "/internal/reservations", tt.body)
				expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
				if _, fields := r.problem(t); !slices.Contains(fields, tt.field) {
					t.Errorf("fields = %v, want %s", fields, tt.field)
				}
			})
		}
		want := Inventory{ProductID: a.ID, OnHand: 5, Available: 5}
		if got := e.inventory(a.ID); got != want {
			t.Errorf("inventory = %+v, want %+v", got, want)
		}
		expect(t, e.call("GET", "/internal/reservations/x", nil), http.StatusNotFound, "not_found")
		// The limits themselves are accepted.
		expect(t, e.call("POST", "/internal/reservations", reserveBody("edge-1", 1, Line{a.ID, 1})),
			http.StatusCreated, "")
		expect(t, e.call("POST", "/internal/reservations", reserveBody(strings.Repeat("r", 100), 86400,
			Line{a.ID, 1})), http.StatusCreated, "")
	})
}

// TestReservationLifecycle walks reservations through every transition,
// checking the answer, the stock and the ledger after each step.
func TestReservationLifecycle(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		a := e.createProduct("LIFE-A", 1000, 10)
		b := e.createProduct("LIFE-B", 1000, 4)
		stock := func(onHand, reserved int64) [2]int64 { return [2]int64{onHand, reserved} }
		row := func(reason, res string, onHand, reserved int64) ledgerRow {
			return ledgerRow{OnHandDelta: onHand, ReservedDelta: reserved, Reason: reason, Reservation: res}
		}
		ledgerA := []ledgerRow{{Product: a.ID, OnHandDelta: 10, Reason: "test"}}
		ledgerB := []ledgerRow{{Product: b.ID, OnHandDelta: 4, Reason: "test"}}
		r1 := reserveBody("r1", 600, Line{b.ID, 2}, Line{a.ID, 3})

		var first response // the first answer to r1
		steps := []struct {
			name       string
			method     string
			path       string
			body       any
			status     int
			code       string
			resStatus  string // the reservation's status in the answer
			a, b       [2]int64
			addA, addB []ledgerRow
		}{
			{"reserve", "POST", "/internal/reservations", r1, 201, "", Held, stock(10, 3), stock(4, 2),
				[]ledgerRow{row("reserved", "r1", 0, 3)}, []ledgerRow{row("reserved", "r1", 0, 2)}},
			{"reserve again", "POST", "/internal/reservations", r1, 200, "", Held, stock(10, 3), stock(4, 2),
				nil, nil},
			{"reserve again, lines in another order, another ttl", "POST", "/internal/reservations",
				reserveBody("r1", 5, Line{a.ID, 3}, Line{b.ID, 2}), 200, "", Held, stock(10, 3), stock(4, 2),
				nil, nil},
			{"reserve again with other lines", "POST", "/internal/reservations",
				reserveBody("r1", 600, Line{a.ID, 1}), 409, "reservation_mismatch", "", stock(10, 3),
				stock(4, 2), nil, nil},
			{"reserve again with another quantity", "POST", "/internal/reservations",
				reserveBody("r1", 600, Line{b.ID, 2}, Line{a.ID, 4}), 409, "reservation_mismatch", "",
				stock(10, 3), stock(4, 2), nil, nil},
			{"reserve again with a line less", "POST", "/internal/reservations",
				reserveBody("r1", 600, Line{b.ID, 2}), 409, "reservation_mismatch", "", stock(10, 3),
				stock(4, 2), nil, nil},
			{"read", "GET", "/internal/reservations/r1", nil, 200, "", Held, stock(10, 3), stock(4, 2),
				nil, nil},
			{"restock a held one", "POST", "/internal/reservations/r1/restock", nil, 409,
				"invalid_transition", "", stock(10, 3), stock(4, 2), nil, nil},
			{"commit", "POST", "/internal/reservations/r1/commit", nil, 200, "", Committed, stock(7, 0),
				stock(2, 0), []ledgerRow{row("committed", "r1", -3, -3)},
				[]ledgerRow{row("committed", "r1", -2, -2)}},
			{"commit again", "POST", "/internal/reservations/r1/commit", nil, 200, "", Committed,
				stock(7, 0), stock(2, 0), nil, nil},
			{"reserve after commit", "POST", "/internal/reservations", r1, 200, "", Committed,
				stock(7, 0), stock(2, 0), nil, nil},
			{"reserve after commit with other lines", "POST", "/internal/reservations",
				reserveBody("r1", 600, Line{b.ID, 1}, Line{a.ID, 3}), 409, "reservation_mismatch", "",
				stock(7, 0), stock(2, 0), nil, nil},
			{"release after commit", "POST", "/internal/reservations/r1/release", nil, 409,
				"invalid_transition", "", stock(7, 0), stock(2, 0), nil, nil},
			{"restock", "POST", "/internal/reservations/r1/restock", nil, 200, "", Restocked,
				stock(10, 0), stock(4, 0), []ledgerRow{row("restocked", "r1", 3, 0)},
				[]ledgerRow{row("restocked", "r1", 2, 0)}},
			{"restock again", "POST", "/internal/reservations/r1/restock", nil, 200, "", Restocked,
				stock(10, 0), stock(4, 0), nil, nil},
			{"commit after restock", "POST", "/internal/reservations/r1/commit", nil, 409,
				"invalid_transition", "", stock(10, 0), stock(4, 0), nil, nil},

			{"reserve r2", "POST", "/internal/reservations", reserveBody("r2", 600, Line{a.ID, 4}), 201, "",
				Held, stock(10, 4), stock(4, 0), []ledgerRow{row("reserved", "r2", 0, 4)}, nil},
			{"release", "POST", "/internal/reservations/r2/release", nil, 200, "", Released,
				stock(10, 0), stock(4, 0), []ledgerRow{row("released", "r2", 0, -4)}, nil},
			{"release again", "POST", "/internal/reservations/r2/release", nil, 200, "", Released,
				stock(10, 0), stock(4, 0), nil, nil},
			{"commit after release", "POST", "/internal/reservations/r2/commit", nil, 409,
				"invalid_transition", "", stock(10, 0), stock(4, 0), nil, nil},
			{"restock after release", "POST", "/internal/reservations/r2/restock", nil, 409,
				"invalid_transition", "", stock(10, 0), stock(4, 0), nil, nil},
			{"reserve after release", "POST", "/internal/reservations", reserveBody("r2", 600,
				Line{a.ID, 4}), 200, "", Released, stock(10, 0), stock(4, 0), nil, nil},

			{"read an unknown one", "GET", "/internal/reservations/nope", nil, 404, "not_found", "",
				stock(10, 0), stock(4, 0), nil, nil},
			{"commit an unknown one", "POST", "/internal/reservations/nope/commit", nil, 404, "not_found",
				"", stock(10, 0), stock(4, 0), nil, nil},
			{"release an unknown one", "POST", "/internal/reservations/nope/release", nil, 404,
				"not_found", "", stock(10, 0), stock(4, 0), nil, nil},
			{"restock an unknown one", "POST", "/internal/reservations/nope/restock", nil, 404,
				"not_found", "", stock(10, 0), stock(4, 0), nil, nil},
		}
		for _, st := range steps {
			r := e.call(st.method, st.path, st.body)
			if r.status != st.status {
				t.Fatalf("%s: status %d, want %d: %s", st.name, r.status, st.status, r.body)
			}
			if st.code != "" {
				if code, _ := r.problem(t); code != st.code {
					t.Errorf("%s: code %q, want %q", st.name, code, st.code)
				}
			}
			if st.resStatus != "" {
				var res Reservation
				r.json(t, &res)
				if res.Status != st.resStatus {
					t.Errorf("%s: status %q, want %q", st.name, res.Status, st.resStatus)
				}
				if res.ID == "r1" {
					checkR1(t, st.name, res, a.ID, b.ID)
				}
			}
			if st.name == "reserve" {
				first = r
			}
			if st.name == "reserve again" || st.name == "reserve again, lines in another order, another ttl" ||
				st.name == "read" {
				if !sameJSON(t, r.body, first.body) {
					t.Errorf("%s answered %s, want the first answer %s", st.name, r.body, first.body)
				}
			}
			for _, p := range []struct {
				id    string
				want  [2]int64
				add   []ledgerRow
				total *[]ledgerRow
			}{{a.ID, st.a, st.addA, &ledgerA}, {b.ID, st.b, st.addB, &ledgerB}} {
				want := Inventory{ProductID: p.id, OnHand: p.want[0], Reserved: p.want[1],
					Available: p.want[0] - p.want[1]}
				if got := e.inventory(p.id); got != want {
					t.Errorf("%s: inventory %+v, want %+v", st.name, got, want)
				}
				for _, l := range p.add {
					l.Product = p.id
					*p.total = append(*p.total, l)
				}
				if got, want := e.stockLedger(p.id), sortLedger(slices.Clone(*p.total)); !reflect.DeepEqual(got,
					want) {
					t.Errorf("%s: ledger of %s\n got %v\nwant %v", st.name, p.id, got, want)
				}
			}
		}
	})
}

// checkR1 checks the content of reservation r1 in an answer.
func checkR1(t *testing.T, step string, res Reservation, a, b string) {
	t.Helper()
	want := []Line{{a, 3}, {b, 2}}
	slices.SortFunc(want, func(x, y Line) int { return strings.Compare(x.ProductID, y.ProductID) })
	if !reflect.DeepEqual(res.Items, want) {
		t.Errorf("%s: items %v, want %v", step, res.Items, want)
	}
	if got := res.ExpiresAt.Sub(res.CreatedAt); got != 600*time.Second {
		t.Errorf("%s: expires %v after creation, want 10m", step, got)
	}
	if res.UpdatedAt.Before(res.CreatedAt) {
		t.Errorf("%s: updated_at %v before created_at %v", step, res.UpdatedAt, res.CreatedAt)
	}
}

// sameJSON reports whether two JSON documents hold the same value.
func sameJSON(t testing.TB, x, y []byte) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(x, &a); err != nil {
		t.Fatalf("decode %s: %v", x, err)
	}
	if err := json.Unmarshal(y, &b); err != nil {
		t.Fatalf("decode %s: %v", y, err)
	}
	return reflect.DeepEqual(a, b)
}

// TestReservationExpires: the sweeper releases a hold whose time is up.
func TestReservationExpires(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		a := e.createProduct("EXP-A", 1000, 5)
		b := e.createProduct("EXP-B", 1000, 5)
		r := e.call("POST", "/internal/reservations",
			reserveBody("short", 1, Line{a.ID, 2}, Line{b.ID, 1}))
		expect(t, r, http.StatusCreated, "")
		eventually(t, 10*time.Second, "the sweeper releases the hold", func() bool {
			var res Reservation
			e.call("GET", "/internal/reservations/short", nil).json(t, &res)
			return res.Status == Released
		})
		for _, p := range []*Product{a, b} {
			want := Inventory{ProductID: p.ID, OnHand: 5, Available: 5}
			if got := e.inventory(p.ID); got != want {
				t.Errorf("inventory = %+v, want %+v", got, want)
			}
			if n := countReason(e.stockLedger(p.ID), "expired", "short"); n != 1 {
				t.Errorf("%d expired rows for %s, want 1", n, p.ID)
			}
		}
		expect(t, e.call("POST", "/internal/reservations/short/commit", nil), http.StatusConflict,
			"reservation_expired")
		r = e.call("POST", "/internal/reservations/short/release", nil)
		expect(t, r, http.StatusOK, "")
	})
}

func countReason(rows []ledgerRow, reason, reservation string) int {
	n := 0
	for _, l := range rows {
		if l.Reason == reason && l.Reservation == reservation {
			n++
		}
	}
	return n
}

// TestSweepExpiredClock drives SweepExpired by hand with a clock the test
// moves, with the background sweeper out of the way.
func TestSweepExpiredClock(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := newManualClock()
		e := start(t, dbURL, func(c *Config) { c.now = clk.Now; c.SweepInterval = time.Hour })
		a := e.createProduct("CLK-A", 1000, 10)
		for _, r := range []struct {
			id  string
			ttl int
		}{{"c60", 60}, {"c120", 120}, {"c30-committed", 30}} {
			expect(t, e.call("POST", "/internal/reservations", reserveBody(r.id, r.ttl, Line{a.ID, 2})),
				http.StatusCreated, "")
		}
		expect(t, e.call("POST", "/internal/reservations/c30-committed/commit", nil), http.StatusOK, "")
		ctx := context.Background()
		steps := []struct {
			advance  time.Duration
			released int
			reserved int64
			statuses map[string]string
		}{
			{0, 0, 4, map[string]string{"c60": Held, "c120": Held}},
			{59 * time.Second, 0, 4, map[string]string{"c60": Held, "c120": Held}},
			{time.Second, 0, 4, map[string]string{"c60": Held}}, // exactly at expires_at: not yet
			{time.Microsecond, 1, 2, map[string]string{"c60": Released, "c120": Held}},
			{0, 0, 2, map[string]string{"c60": Released, "c120": Held}},
			{time.Minute, 1, 0, map[string]string{"c120": Released, "c30-committed": Committed}},
			{24 * time.Hour, 0, 0, map[string]string{"c60": Released, "c30-committed": Committed}},
		}
		for i, st := range steps {
			clk.Advance(st.advance)
			n, err := e.svc.SweepExpired(ctx)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if n != st.released {
				t.Errorf("step %d: released %d, want %d", i, n, st.released)
			}
			if inv := e.inventory(a.ID); inv.Reserved != st.reserved || inv.OnHand != 8 {
				t.Errorf("step %d: inventory %+v, want on hand 8, reserved %d", i, inv, st.reserved)
			}
			for id, want := range st.statuses {
				if got := e.reservationStatus(id); got != want {
					t.Errorf("step %d: %s is %s, want %s", i, id, got, want)
				}
			}
		}
		ledger := e.stockLedger(a.ID)
		for _, id := range []string{"c60", "c120"} {
			if n := countReason(ledger, "expired", id); n != 1 {
				t.Errorf("%d expired rows for %s, want 1: %v", n, id, ledger)
			}
		}
		expect(t, e.call("POST", "/internal/reservations/c60/commit", nil), http.StatusConflict,
			"reservation_expired")
	})
}

// TestCommitRacesSweeper commits holds just as their time runs out, while the
// sweeper releases what expired: each ends either committed or released,
// never both, and the stock adds up.
func TestCommitRacesSweeper(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		const n = 40
		a := e.createProduct("RACE-A", 1000, 500)
		b := e.createProduct("RACE-B", 1000, 500)
		type hold struct {
			id      string
			qa      int64
			expires time.Time
			commit  time.Time // when the test commits it
			status  int       // the commit's answer
		}
		holds := make([]*hold, n)
		for i := range holds {
			h := &hold{id: fmt.Sprintf("race-%02d", i), qa: int64(1 + i%3)}
			r := e.call("POST", "/internal/reservations",
				reserveBody(h.id, 1, Line{a.ID, h.qa}, Line{b.ID, 1}))
			expect(t, r, http.StatusCreated, "")
			var res Reservation
			r.json(t, &res)
			h.expires = res.ExpiresAt
			// From 60ms before expiry to 90ms after: the sweeper runs every 50ms.
			h.commit = h.expires.Add(time.Duration(i%16)*10*time.Millisecond - 60*time.Millisecond)
			holds[i] = h
		}
		// Commit each at its time: a ticker looks for the ones that are due.
		var wg sync.WaitGroup
		errc := make(chan error, n)
		tick := time.NewTicker(2 * time.Millisecond)
		for pending := slices.Clone(holds); len(pending) > 0; <-tick.C {
			now := time.Now()
			pending = slices.DeleteFunc(pending, func(h *hold) bool {
				if now.Before(h.commit) {
					return false
				}
				wg.Go(func() {
					r, err := e.tryCall("POST", "/internal/reservations/"+h.id+"/commit", nil)
					if err != nil {
						errc <- err
						return
					}
					h.status = r.status
				})
				return true
			})
		}
		tick.Stop()
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "every hold is committed or released", func() bool {
			return e.inventory(a.ID).Reserved == 0 && e.inventory(b.ID).Reserved == 0
		})
		ledgerA, ledgerB := e.stockLedger(a.ID), e.stockLedger(b.ID)
		var committedA, committedB, wins int64
		for _, h := range holds {
			status := e.reservationStatus(h.id)
			switch {
			case h.status == http.StatusOK && status == Committed:
				committedA += h.qa
				committedB++
				wins++
			case h.status == http.StatusConflict && status == Released:
			default:
				t.Errorf("%s: commit answered %d, and it is %s", h.id, h.status, status)
			}
			for _, l := range [][]ledgerRow{ledgerA, ledgerB} {
				c, x := countReason(l, "committed", h.id), countReason(l, "expired", h.id)
				if c+x != 1 || (c == 1) != (status == Committed) {
					t.Errorf("%s (%s): %d committed and %d expired ledger rows", h.id, status, c, x)
				}
			}
		}
		t.Logf("%d of %d commits won against the sweeper", wins, n)
		for _, c := range []struct {
			p         *Product
			committed int64
		}{{a, committedA}, {b, committedB}} {
			want := Inventory{ProductID: c.p.ID, OnHand: 500 - c.committed, Available: 500 - c.committed}
			if got := e.inventory(c.p.ID); got != want {
				t.Errorf("inventory %+v, want %+v", got, want)
			}
		}
	})
}

// TestReserveConcurrentRepeats: retries of one reservation that arrive
// together hold the stock once; one answer is 201, the others 200 with the
// same reservation.
func TestReserveConcurrentRepeats(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		a := e.createProduct("REP-A", 1000, 10)
		b := e.createProduct("REP-B", 1000, 10)
		const n = 12
		answers := make([]response, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				answers[i], errs[i] = e.tryCall("POST", "/internal/reservations",
					reserveBody("same", 60, Line{a.ID, 3}, Line{b.ID, 1}))
			})
		}
		waitOrFail(t, &wg, 30*time.Second, "the repeats finish")
		created := 0
		for i, r := range answers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch r.status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if !sameJSON(t, r.body, answers[0].body) {
				t.Errorf("answers differ: %s and %s", r.body, answers[0].body)
			}
		}
		if created != 1 {
			t.Errorf("%d answers were 201, want 1", created)
		}
		for _, p := range []struct {
			id       string
			reserved int64
		}{{a.ID, 3}, {b.ID, 1}} {
			want := Inventory{ProductID: p.id, OnHand: 10, Reserved: p.reserved, Available: 10 - p.reserved}
			if got := e.inventory(p.id); got != want {
				t.Errorf("inventory %+v, want %+v", got, want)
			}
			if got := countReason(e.stockLedger(p.id), "reserved", "same"); got != 1 {
				t.Errorf("%d reserved ledger rows, want 1", got)
			}
		}
	})
}

// TestReserveConcurrentMismatch: repeats of one reservation id with two
// different bodies arrive together. One body wins and is held once; every
// repeat of the winner answers its reservation, every other body
// 409 reservation_mismatch — also those that lose the race on the id's
// unique key rather than finding the row (PostgreSQL).
func TestReserveConcurrentMismatch(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		a := e.createProduct("MIS-A", 1000, 10)
		b := e.createProduct("MIS-B", 1000, 10)
		bodies := [][]Line{{{a.ID, 3}, {b.ID, 1}}, {{a.ID, 2}}}
		const n = 12
		answers := make([]response, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				answers[i], errs[i] = e.tryCall("POST", "/internal/reservations",
					reserveBody("mixed", 60, bodies[i%2]...))
			})
		}
		waitOrFail(t, &wg, 30*time.Second, "the repeats finish")
		var res Reservation
		r := e.call("GET", "/internal/reservations/mixed", nil)
		expect(t, r, http.StatusOK, "")
		r.json(t, &res)
		winner := slices.IndexFunc(bodies, func(ls []Line) bool { return holdsLines(ls, res.Items) })
		if winner < 0 {
			t.Fatalf("held %v, neither body", res.Items)
		}
		created := 0
		for i, r := range answers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			switch {
			case i%2 != winner:
				expect(t, r, http.StatusConflict, "reservation_mismatch")
			case r.status == http.StatusCreated:
				created++
			default:
				expect(t, r, http.StatusOK, "")
			}
		}
		if created != 1 {
			t.Errorf("%d answers were 201, want 1", created)
		}
		for _, l := range res.Items {
			if got := e.inventory(l.ProductID).Reserved; got != l.Quantity {
				t.Errorf("%s: %d reserved, want %d", l.ProductID, got, l.Quantity)
			}
		}
	})
}

// holdsLines reports whether two reservations' lines hold the same products
// in the same quantities, in any order.
func holdsLines(x, y []Line) bool {
	cmp := func(a, b Line) int { return strings.Compare(a.ProductID, b.ProductID) }
	return slices.Equal(slices.SortedFunc(slices.Values(x), cmp), slices.SortedFunc(slices.Values(y), cmp))
}

// TestCommitAfterExpiry: a hold's time is firm. Up to expires_at it commits;
// after, committing it is 409 reservation_expired whether or not the sweeper
// has released it yet, and changes nothing. A commit that happened in time
// stays 200 on repeats after expiry; releasing after expiry is fine.
func TestCommitAfterExpiry(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := newManualClock()
		e := start(t, dbURL, func(c *Config) { c.now = clk.Now; c.SweepInterval = time.Hour })
		a := e.createProduct("FIRM-A", 1000, 10)
		for _, id := range []string{"early", "edge", "late", "swept", "dropped"} {
			expect(t, e.call("POST", "/internal/reservations", reserveBody(id, 60, Line{a.ID, 1})),
				http.StatusCreated, "")
		}
		steps := []struct {
			advance  time.Duration
			verb, id string
			status   int
			code     string
			after    string // the reservation's status afterwards
		}{
			{30 * time.Second, "commit", "early", 200, "", Committed},
			{0, "release", "dropped", 200, "", Released},
			{30 * time.Second, "commit", "edge", 200, "", Committed}, // at expires_at: still in time
			{time.Microsecond, "commit", "late", 409, "reservation_expired", Held},
			{0, "commit", "late", 409, "reservation_expired", Held},
			{0, "commit", "early", 200, "", Committed},
			{0, "commit", "edge", 200, "", Committed},
			{0, "commit", "dropped", 409, "reservation_expired", Released},
			{0, "release", "late", 200, "", Released},
			{0, "release", "late", 200, "", Released},
			{0, "commit", "late", 409, "reservation_expired", Released},
			{0, "sweep", "swept", 0, "", Released},
			{0, "commit", "swept", 409, "reservation_expired", Released},
			{0, "restock", "early", 200, "", Restocked},
			{0, "commit", "early", 409, "invalid_transition", Restocked},
		}
		for i, st := range steps {
			clk.Advance(st.advance)
			name := fmt.Sprintf("step %d: %s %s", i, st.verb, st.id)
			if st.verb == "sweep" {
				if _, err := e.svc.SweepExpired(context.Background()); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			} else {
				r := e.call("POST", "/internal/reservations/"+st.id+"/"+st.verb, nil)
				if r.status != st.status {
					t.Fatalf("%s: status %d, want %d: %s", name, r.status, st.status, r.body)
				}
				if st.code != "" {
					expect(t, r, st.status, st.code)
				}
			}
			if got := e.reservationStatus(st.id); got != st.after {
				t.Errorf("%s: %s is %s, want %s", name, st.id, got, st.after)
			}
		}
		// Sold: edge (early was restocked); nothing is held any more.
		want := Inventory{ProductID: a.ID, OnHand: 9, Available: 9}
		if got := e.inventory(a.ID); got != want {
			t.Errorf("inventory %+v, want %+v", got, want)
		}
		if n := countReason(e.stockLedger(a.ID), "committed", "late"); n != 0 {
			t.Errorf("%d committed ledger rows for the expired hold", n)
		}
	})
}
