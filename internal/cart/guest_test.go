package cart

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"
)

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// newGuestCart adds a product without a token and returns the new cart's
// token.
func (e *env) newGuestCart(productID string, quantity int) string {
	e.t.Helper()
	r := e.guest("POST", "/api/v1/cart/items", "", map[string]any{"product_id": productID, "quantity": quantity})
	expect(e.t, r, http.StatusOK, "")
	token := r.Header.Get(TokenHeader)
	if !tokenPattern.MatchString(token) {
		e.t.Fatalf("new guest cart's token %q, want 43 base64url characters", token)
	}
	return token
}

// guestItems reads a guest cart, which must answer 200, as its lines.
func (e *env) guestItems(token string) []StoredLine {
	e.t.Helper()
	r := e.guest("GET", "/api/v1/cart", token, nil)
	expect(e.t, r, http.StatusOK, "")
	var c Cart
	r.JSON(e.t, &c)
	return itemsOf(c)
}

// Without a bearer token the routes work on the guest cart the Cart-Token
// header names; the first add without one makes the cart and answers its
// token, once.
func TestGuestCart(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug, tea := e.createProduct(1299, 10), e.createProduct(450, 5)

		for _, r := range []response{
			e.guest("GET", "/api/v1/cart", "", nil),
			e.guest("PATCH", "/api/v1/cart/items/"+mug.ID, "", map[string]any{"quantity": 1}),
			e.guest("DELETE", "/api/v1/cart/items/"+mug.ID, "", nil),
			e.guest("DELETE", "/api/v1/cart", "", nil),
		} {
			expect(t, r, http.StatusNotFound, "cart_not_found")
		}
		// A refused add makes no cart.
		r := e.guest("POST", "/api/v1/cart/items", "", map[string]any{"product_id": "nope", "quantity": 1})
		expect(t, r, http.StatusNotFound, "product_not_found")
		if r.Header.Get(TokenHeader) != "" {
			t.Error("a refused add answered a cart token")
		}

		token := e.newGuestCart(mug.ID, 2)
		other := e.newGuestCart(mug.ID, 5)
		if token == other {
			t.Fatal("two guest carts have one token")
		}
		r = e.guest("POST", "/api/v1/cart/items", token, map[string]any{"product_id": tea.ID, "quantity": 1})
		expect(t, r, http.StatusOK, "")
		if r.Header.Get(TokenHeader) != "" {
			t.Error("an add to an existing guest cart answered a token again")
		}
		if got := e.guestItems(token); !slices.Equal(got, []StoredLine{{mug.ID, 2}, {tea.ID, 1}}) {
			t.Errorf("guest cart = %v", got)
		}
		expect(t, e.guest("PATCH", "/api/v1/cart/items/"+mug.ID, token, map[string]any{"quantity": 4}),
			http.StatusOK, "")
		expect(t, e.guest("DELETE", "/api/v1/cart/items/"+tea.ID, token, nil), http.StatusOK, "")
		if got := e.guestItems(token); !slices.Equal(got, []StoredLine{{mug.ID, 4}}) {
			t.Errorf("after PATCH and DELETE = %v", got)
		}
		if got := e.guestItems(other); !slices.Equal(got, []StoredLine{{mug.ID, 5}}) {
			t.Errorf("the other guest cart = %v", got)
		}

		// Unknown, malformed and repeated tokens name no cart, and make none.
		unknown, _ := newToken()
		for _, r := range []response{
			e.guest("GET", "/api/v1/cart", unknown, nil),
			e.guest("GET", "/api/v1/cart", "not-a-token", nil),
			e.guest("POST", "/api/v1/cart/items", unknown, map[string]any{"product_id": mug.ID, "quantity": 1}),
			e.guest("PATCH", "/api/v1/cart/items/"+mug.ID, unknown, map[string]any{"quantity": 1}),
			e.guest("DELETE", "/api/v1/cart", unknown, nil),
			e.twoTokens(token, other),
		} {
			expect(t, r, http.StatusNotFound, "cart_not_found")
			if r.Header.Get(TokenHeader) != "" {
				t.Error("a request with an unknown token answered a new token")
			}
		}

		// A customer's request is about the customer's cart, Cart-Token or not.
		ada := e.customer("ada")
		r = e.do("GET", "/api/v1/cart", ada, nil, TokenHeader, token)
		expect(t, r, http.StatusOK, "")
		var c Cart
		r.JSON(t, &c)
		if len(c.Items) != 0 {
			t.Errorf("a customer sending a guest's token sees %v", itemsOf(c))
		}
		expect(t, e.do("POST", "/api/v1/cart/items", ada, map[string]any{"product_id": tea.ID, "quantity": 1},
			TokenHeader, token), http.StatusOK, "")
		if got := e.guestItems(token); !slices.Equal(got, []StoredLine{{mug.ID, 4}}) {
			t.Errorf("the customer's add changed the guest cart: %v", got)
		}

		expect(t, e.guest("DELETE", "/api/v1/cart", token, nil), http.StatusNoContent, "")
		if got := e.guestItems(token); len(got) != 0 {
			t.Errorf("emptied guest cart = %v", got)
		}
	})
}

// A guest cart lives 30 days after its last change: then its token names
// nothing, and the sweeper deletes it. Reads do not make it live longer.
func TestGuestCartExpires(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := clock()
		e := start(t, dbURL, func(c *Config) { c.now = clk.Now })
		mug := e.createProduct(1299, 10)
		old := e.newGuestCart(mug.ID, 1)
		clk.Advance(20 * 24 * time.Hour)
		young := e.newGuestCart(mug.ID, 1)
		clk.Advance(9 * 24 * time.Hour)
		e.guestItems(old) // a read is no change
		// A change now makes it live another 30 days.
		kept := e.newGuestCart(mug.ID, 1)
		clk.Advance(24*time.Hour + time.Second)

		expect(t, e.guest("GET", "/api/v1/cart", old, nil), http.StatusNotFound, "cart_not_found")
		expect(t, e.guest("POST", "/api/v1/cart/items", old, map[string]any{"product_id": mug.ID, "quantity": 1}),
			http.StatusNotFound, "cart_not_found")
		expect(t, e.do("POST", "/api/v1/cart/merge", e.customer("ada"), map[string]any{"cart_token": old}),
			http.StatusNotFound, "cart_not_found")
		e.guestItems(young)
		e.guestItems(kept)
		e.read(e.customer("ada")) // customers' carts never expire

		n, err := e.svc.SweepGuests(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("sweep deleted %d (%v), want 1", n, err)
		}
		if n, err := e.svc.SweepGuests(context.Background()); err != nil || n != 0 {
			t.Errorf("second sweep deleted %d (%v), want 0", n, err)
		}
		clk.Advance(30 * 24 * time.Hour)
		if n, err := e.svc.SweepGuests(context.Background()); err != nil || n != 2 {
			t.Errorf("sweep 30 days later deleted %d (%v), want 2", n, err)
		}
		if c := e.read(e.customer("ada")); c.ID == "" {
			t.Error("the sweep deleted a customer's cart")
		}
	})
}

// Merging moves a guest cart into the customer's: quantities of one product
// add up to at most 99, lines past 100 are dropped and listed, the guest
// cart is gone, and merging again finds nothing.
func TestMerge(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		ada := e.customer("ada")
		mug, tea, pen := e.createProduct(1299, 10), e.createProduct(450, 5), e.createProduct(99, 5)
		e.add(ada, mug.ID, 60)
		e.add(ada, tea.ID, 1)
		token := e.newGuestCart(mug.ID, 50)
		expect(t, e.guest("POST", "/api/v1/cart/items", token, map[string]any{"product_id": pen.ID, "quantity": 3}),
			http.StatusOK, "")

		r := e.do("POST", "/api/v1/cart/merge", ada, map[string]any{"cart_token": token})
		expect(t, r, http.StatusOK, "")
		var m Merged
		r.JSON(t, &m)
		want := []StoredLine{{mug.ID, 99}, {tea.ID, 1}, {pen.ID, 3}}
		if got := itemsOf(m.Cart); !slices.Equal(got, want) || len(m.Dropped) != 0 {
			t.Errorf("merged = %v, dropped %v; want %v and none", got, m.Dropped, want)
		}
		if m.Subtotal.Amount != 99*1299+450+3*99 || m.ItemCount != 103 {
			t.Errorf("subtotal %d, item_count %d", m.Subtotal.Amount, m.ItemCount)
		}
		expect(t, e.guest("GET", "/api/v1/cart", token, nil), http.StatusNotFound, "cart_not_found")
		again := e.do("POST", "/api/v1/cart/merge", ada, map[string]any{"cart_token": token})
		expect(t, again, http.StatusNotFound, "cart_not_found")
		if got := itemsOf(e.read(ada)); !slices.Equal(got, want) {
			t.Errorf("after a second merge = %v, want %v", got, want)
		}

		expect(t, e.guest("POST", "/api/v1/cart/merge", "", map[string]any{"cart_token": token}),
			http.StatusUnauthorized, "unauthenticated")
		for _, body := range []any{map[string]any{}, map[string]any{"cart_token": ""}, map[string]any{"cart_token": 1}} {
			r := e.do("POST", "/api/v1/cart/merge", ada, body)
			expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			if _, fields := r.Problem(t); !slices.Equal(fields, []string{"cart_token"}) {
				t.Errorf("merge %v: fields %v", body, fields)
			}
		}
		expect(t, e.do("POST", "/api/v1/cart/merge", ada, map[string]any{"cart_token": "short"}),
			http.StatusNotFound, "cart_not_found")
	})
}

// A merge into a cart of 98 lines takes two new guest lines and drops the
// rest, in the guest cart's order.
func TestMergeDropsLinesPast100(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		bob := e.customer("bob")
		ps := make([]testProduct, 102)
		for i := range ps {
			ps[i] = e.createProduct(100, 1)
		}
		for _, p := range ps[:98] {
			e.add(bob, p.ID, 1)
		}
		token := e.newGuestCart(ps[0].ID, 2) // a product bob has: no new line
		for _, p := range ps[98:] {
			expect(t, e.guest("POST", "/api/v1/cart/items", token, map[string]any{"product_id": p.ID, "quantity": 2}),
				http.StatusOK, "")
		}
		r := e.do("POST", "/api/v1/cart/merge", bob, map[string]any{"cart_token": token})
		expect(t, r, http.StatusOK, "")
		var m Merged
		r.JSON(t, &m)
		if len(m.Items) != MaxLines {
			t.Fatalf("%d lines after the merge, want %d", len(m.Items), MaxLines)
		}
		if m.Items[0].Quantity != 3 || m.Items[98].ProductID != ps[98].ID || m.Items[99].ProductID != ps[99].ID {
			t.Errorf("merged lines: first %+v, 99th %s, 100th %s", m.Items[0], m.Items[98].ProductID, m.Items[99].ProductID)
		}
		want := []Dropped{{ps[100].ID, ps[100].SKU, ps[100].Name, 2}, {ps[101].ID, ps[101].SKU, ps[101].Name, 2}}
		if !slices.Equal(m.Dropped, want) {
			t.Errorf("dropped = %+v, want %+v", m.Dropped, want)
		}
	})
}

// Two customers merging one guest cart at once: one gets it, the other
// finds nothing, and no line is in both carts.
func TestConcurrentMerges(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug := e.createProduct(1299, 10)
		token := e.newGuestCart(mug.ID, 2)
		customers := []string{e.customer("ada"), e.customer("bob")}
		statuses := make([]int, len(customers))
		var wg sync.WaitGroup
		for i, c := range customers {
			wg.Go(func() {
				statuses[i] = e.do("POST", "/api/v1/cart/merge", c, map[string]any{"cart_token": token}).Status
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		if !slices.Equal(statuses, []int{http.StatusOK, http.StatusNotFound}) {
			t.Fatalf("statuses %v, want one 200 and one 404", statuses)
		}
		total := 0
		for _, c := range customers {
			total += e.read(c).ItemCount
		}
		if total != 2 {
			t.Errorf("the two customers hold %d units, want 2", total)
		}
	})
}

// No customer ever sees or changes another's cart.
func TestNoCrossCustomerAccess(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mug := e.createProduct(1299, 10)
		ada, bob := e.customer("ada"), e.customer("bob")
		adas := e.add(ada, mug.ID, 3)
		bobs := e.read(bob)
		if bobs.ID == adas.ID || len(bobs.Items) != 0 {
			t.Fatalf("bob sees %+v", bobs)
		}
		expect(t, e.do("PATCH", "/api/v1/cart/items/"+mug.ID, bob, map[string]any{"quantity": 1}),
			http.StatusNotFound, "line_not_found")
		expect(t, e.do("DELETE", "/api/v1/cart/items/"+mug.ID, bob, nil), http.StatusNotFound, "line_not_found")
		expect(t, e.do("DELETE", "/api/v1/cart", bob, nil), http.StatusNoContent, "")
		// A cart id names nothing.
		expect(t, e.guest("GET", "/api/v1/cart", adas.ID, nil), http.StatusNotFound, "cart_not_found")
		expect(t, e.do("POST", "/api/v1/cart/merge", bob, map[string]any{"cart_token": adas.ID}),
			http.StatusNotFound, "cart_not_found")
		if got := itemsOf(e.read(ada)); !slices.Equal(got, []StoredLine{{mug.ID, 3}}) {
			t.Errorf("ada's cart = %v", got)
		}
	})
}

// twoTokens reads the cart with two Cart-Token headers.
func (e *env) twoTokens(a, b string) response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.url+"/api/v1/cart", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Add(TokenHeader, a)
	req.Header.Add(TokenHeader, b)
	res, err := e.client.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: body}
}
