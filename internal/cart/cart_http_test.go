package cart

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"emporium/internal/platform/auth/authtest"
)

// itemsOf returns a cart's lines as product id and quantity pairs.
func itemsOf(c Cart) []StoredLine {
	out := []StoredLine{}
	for _, it := range c.Items {
		out = append(out, StoredLine{ProductID: it.ProductID, Quantity: it.Quantity})
	}
	return out
}

// A customer's cart through every route of API.md's Cart section.
func TestCustomerCart(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug, tea := e.createProduct(1299, 10), e.createProduct(450, 0)
		ada := e.customer("ada")

		first := e.read(ada)
		if first.ID == "" || len(first.Items) != 0 || first.ItemCount != 0 ||
			first.Subtotal != (Money{Amount: 0, Currency: "USD"}) || first.Stale {
			t.Fatalf("a new customer's cart = %+v, want empty with an id", first)
		}

		c := e.add(ada, mug.ID, 2)
		c = e.add(ada, tea.ID, 1)
		c = e.add(ada, mug.ID, 1) // adds to the line
		want := []StoredLine{{mug.ID, 3}, {tea.ID, 1}}
		if got := itemsOf(c); !slices.Equal(got, want) {
			t.Fatalf("lines = %v, want %v", got, want)
		}
		if c.ID != first.ID {
			t.Errorf("cart id changed from %s to %s", first.ID, c.ID)
		}
		m := c.Items[0]
		if m.SKU != mug.SKU || m.Name != mug.Name || m.UnitPrice != mug.Price || m.Available != 10 ||
			m.LineTotal != (Money{Amount: 3 * 1299, Currency: "USD"}) {
			t.Errorf("mug line = %+v", m)
		}
		if c.Items[1].Available != 0 {
			t.Errorf("tea (no stock) available = %d, want 0", c.Items[1].Available)
		}
		if c.Subtotal != (Money{Amount: 3*1299 + 450, Currency: "USD"}) || c.ItemCount != 4 {
			t.Errorf("subtotal %v, item_count %d", c.Subtotal, c.ItemCount)
		}

		r := e.do("PATCH", "/api/v1/cart/items/"+mug.ID, ada, map[string]any{"quantity": 7})
		expect(t, r, http.StatusOK, "")
		r.JSON(t, &c)
		if got := itemsOf(c); !slices.Equal(got, []StoredLine{{mug.ID, 7}, {tea.ID, 1}}) {
			t.Errorf("after PATCH 7: %v", got)
		}
		r = e.do("PATCH", "/api/v1/cart/items/"+tea.ID, ada, map[string]any{"quantity": 0})
		expect(t, r, http.StatusOK, "")
		r.JSON(t, &c)
		if got := itemsOf(c); !slices.Equal(got, []StoredLine{{mug.ID, 7}}) {
			t.Errorf("after PATCH 0: %v", got)
		}
		r = e.do("DELETE", "/api/v1/cart/items/"+mug.ID, ada, nil)
		expect(t, r, http.StatusOK, "")
		r.JSON(t, &c)
		if len(c.Items) != 0 || c.ItemCount != 0 || c.Subtotal.Amount != 0 {
			t.Errorf("after DELETE: %+v", c)
		}

		e.add(ada, mug.ID, 1)
		expect(t, e.do("DELETE", "/api/v1/cart", ada, nil), http.StatusNoContent, "")
		if c := e.read(ada); len(c.Items) != 0 || c.ID != first.ID {
			t.Errorf("after emptying: %+v, want no lines and the same id", c)
		}
		expect(t, e.do("DELETE", "/api/v1/cart", ada, nil), http.StatusNoContent, "")
	})
}

// Every error of API.md's Cart section, and the house's decoding errors.
func TestCartErrors(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug := e.createProduct(1299, 10)
		draft := e.createProduct(500, 10, "draft")
		archived := e.createProduct(500, 10)
		e.editProduct(archived.ID, map[string]any{"status": "archived"})
		ada := e.customer("ada")
		add := func(body any) response {
			return e.do("POST", "/api/v1/cart/items", ada, body)
		}

		for _, id := range []string{"0190a3c2-7c1e-7b4e-9f0a-3d2b1c4e5f60", draft.ID, archived.ID, "a,b", "x y"} {
			expect(t, add(map[string]any{"product_id": id, "quantity": 1}), http.StatusNotFound, "product_not_found")
		}
		for _, tt := range []struct {
			body  any
			field string
		}{
			{map[string]any{"product_id": mug.ID, "quantity": 0}, "quantity"},
			{map[string]any{"product_id": mug.ID, "quantity": 100}, "quantity"},
			{map[string]any{"product_id": mug.ID}, "quantity"},
			{map[string]any{"quantity": 1}, "product_id"},
			{map[string]any{"product_id": mug.ID, "quantity": "2"}, "quantity"},
			{map[string]any{"product_id": mug.ID, "quantity": 1.5}, "quantity"},
			{map[string]any{"product_id": mug.ID, "quantity": 1, "price": 1}, "price"},
		} {
			r := add(tt.body)
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			if _, fields := r.Problem(t); !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("%v: fields %v, want [%s]", tt.body, fields, tt.field)
			}
		}
		expect(t, add(`{"product_id":`), http.StatusBadRequest, "malformed_json")
		expect(t, e.do("POST", "/api/v1/cart/items", ada, "product_id=x", "Content-Type", "text/plain"),
			http.StatusUnsupportedMediaType, "unsupported_media_type")

		// A line may not pass 99 units: adding to it past 99 is refused whole.
		e.add(ada, mug.ID, 98)
		r := add(map[string]any{"product_id": mug.ID, "quantity": 2})
		expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
		if _, fields := r.Problem(t); !slices.Equal(fields, []string{"quantity"}) {
			t.Errorf("add past 99: fields %v, want [quantity]", fields)
		}
		e.add(ada, mug.ID, 1)
		if c := e.read(ada); !slices.Equal(itemsOf(c), []StoredLine{{mug.ID, 99}}) {
			t.Errorf("after 98 + 1: %v", itemsOf(c))
		}

		other := e.createProduct(100, 1)
		for _, method := range []string{"PATCH", "DELETE"} {
			var body any
			if method == "PATCH" {
				body = map[string]any{"quantity": 1}
			}
			expect(t, e.do(method, "/api/v1/cart/items/"+other.ID, ada, body), http.StatusNotFound, "line_not_found")
			// A customer who never had a cart has no line either.
			expect(t, e.do(method, "/api/v1/cart/items/"+other.ID, e.customer("newcomer"), body),
				http.StatusNotFound, "line_not_found")
		}
		for _, body := range []any{map[string]any{"quantity": -1}, map[string]any{"quantity": 100},
			map[string]any{}, map[string]any{"quantity": nil}} {
			r := e.do("PATCH", "/api/v1/cart/items/"+mug.ID, ada, body)
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			if _, fields := r.Problem(t); !slices.Equal(fields, []string{"quantity"}) {
				t.Errorf("PATCH %v: fields %v, want [quantity]", body, fields)
			}
		}

		// A bad bearer token is 401 on every route, never a guest.
		expired := e.issuer.TokenWith(func(c *authtest.Claims) {
			c.Subject = "ada"
			c.IssuedAt = time.Now().Add(-time.Hour)
			c.NotBefore = c.IssuedAt
			c.Expiry = time.Now().Add(-time.Minute)
		})
		for _, token := range []string{"garbage", expired} {
			for _, r := range []response{
				e.do("GET", "/api/v1/cart", token, nil),
				e.do("POST", "/api/v1/cart/items", token, map[string]any{"product_id": mug.ID, "quantity": 1}),
				e.do("PATCH", "/api/v1/cart/items/"+mug.ID, token, map[string]any{"quantity": 1}),
				e.do("DELETE", "/api/v1/cart/items/"+mug.ID, token, nil),
				e.do("DELETE", "/api/v1/cart", token, nil),
				e.do("POST", "/api/v1/cart/merge", token, map[string]any{"cart_token": "x"}),
			} {
				expect(t, r, http.StatusUnauthorized, "unauthenticated")
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if r.Header.Get(TokenHeader) != "" {
					t.Error("a request with a bad token got a guest cart")
				}
			}
		}
		if c := e.read(ada); !slices.Equal(itemsOf(c), []StoredLine{{mug.ID, 99}}) {
			t.Errorf("the requests with bad tokens changed the cart: %v", itemsOf(c))
		}
	})
}

// A cart holds 100 lines; the 101st product is 422 cart_full. A cart of 100
// lines is priced with one call to the catalog, or none when the cart asked
// about them all less than summaryMaxAge ago.
func TestCartFullAndPricedInOneCall(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := clock()
		e := start(t, dbURL, func(c *Config) { c.now = clk.Now })
		ada := e.customer("ada")
		var want int64
		for i := range MaxLines {
			p := e.createProduct(int64(100+i), 5)
			e.add(ada, p.ID, 1)
			want += int64(100 + i)
		}
		extra := e.createProduct(1, 5)
		r := e.do("POST", "/api/v1/cart/items", ada, map[string]any{"product_id": extra.ID, "quantity": 1})
		expect(t, r, http.StatusUnprocessableEntity, "cart_full")

		before := e.catalogCalls()
		e.read(ada)
		if calls := e.catalogCalls() - before; calls != 0 {
			t.Errorf("reading a cart of 100 lines just added made %d calls to the catalog, want 0", calls)
		}
		clk.Advance(summaryMaxAge)
		before = e.catalogCalls()
		c := e.read(ada)
		if calls := e.catalogCalls() - before; calls != 1 {
			t.Errorf("reading a cart of 100 lines made %d calls to the catalog, want 1", calls)
		}
		if len(c.Items) != MaxLines || c.ItemCount != MaxLines || c.Subtotal.Amount != want || c.Stale {
			t.Errorf("%d lines, %d items, subtotal %d (want %d), stale %v", len(c.Items), c.ItemCount,
				c.Subtotal.Amount, want, c.Stale)
		}
		// Adding to a line of a full cart is fine.
		e.add(ada, c.Items[0].ProductID, 1)
	})
}
