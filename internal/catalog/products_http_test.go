package catalog

import (
	"cmp"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/auth/authtest"
)

// This file holds the HTTP tests of products (create, read, edit, archive,
// listing) and the small helpers the catalog test files of this series share.

// forT returns e reporting to t, so that helpers called inside a subtest
// fail that subtest rather than its parent.
func (e *env) forT(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// productBody is a valid creation body for an active product; edits change it.
func productBody(sku string, price int64, edits ...func(map[string]any)) map[string]any {
	b := map[string]any{"sku": sku, "name": "Product " + sku, "status": StatusActive,
		"price": map[string]any{"amount": price, "currency": "USD"}}
	for _, edit := range edits {
		edit(b)
	}
	return b
}

// newProduct creates a product from body as an admin.
func (e *env) newProduct(body map[string]any) Product {
	e.t.Helper()
	r := e.do("POST", "/api/v1/products", e.adminToken(), body)
	expect(e.t, r, http.StatusCreated, "")
	var p Product
	r.json(e.t, &p)
	return p
}

// getProduct reads a product with token ("" for the public).
func (e *env) getProduct(id, token string, headers ...string) response {
	e.t.Helper()
	return e.do("GET", "/api/v1/products/"+id, token, nil, headers...)
}

// product reads a product that must be there.
func (e *env) readProduct(id, token string) Product {
	e.t.Helper()
	r := e.getProduct(id, token)
	expect(e.t, r, http.StatusOK, "")
	var p Product
	r.json(e.t, &p)
	return p
}

// patchProduct changes a product as an admin.
func (e *env) patchProduct(id string, body any, headers ...string) response {
	e.t.Helper()
	return e.do("PATCH", "/api/v1/products/"+id, e.adminToken(), body, headers...)
}

// productPage is one page of GET /api/v1/products.
type productPage struct {
	Items      []Product `json:"items"`
	NextCursor string    `json:"next_cursor"`
}

// page reads one page of the listing with query, as token.
func (e *env) listPage(token, query string) productPage {
	e.t.Helper()
	r := e.do("GET", "/api/v1/products?"+query, token, nil)
	expect(e.t, r, http.StatusOK, "")
	var pg productPage
	r.json(e.t, &pg)
	return pg
}

// walkListing follows the listing's cursors from the first page to the last and
// returns every product in order, checking that no page is longer than limit.
func (e *env) walkListing(token, query string, limit int) []Product {
	e.t.Helper()
	var all []Product
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 200 {
			e.t.Fatalf("%s: more than 200 pages", query)
		}
		q := query + "&limit=" + itoa(int64(limit))
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		pg := e.listPage(token, q)
		if len(pg.Items) > limit {
			e.t.Fatalf("%s: a page of %d items, limit %d", q, len(pg.Items), limit)
		}
		if pg.NextCursor != "" && len(pg.Items) != limit {
			e.t.Fatalf("%s: a short page (%d of %d) with a next cursor", q, len(pg.Items), limit)
		}
		all = append(all, pg.Items...)
		if pg.NextCursor == "" {
			return all
		}
		cursor = pg.NextCursor
	}
}

// idsOf returns the products' ids, in order.
func idsOf(ps []Product) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// expectInvalid checks a 422 validation_failed naming exactly field.
func expectInvalid(t testing.TB, r response, field string) {
	t.Helper()
	expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
	if _, fields := r.problem(t); !slices.Equal(fields, []string{field}) {
		t.Fatalf("fields %q, want [%q]: %s", fields, field, r.body)
	}
}

// newCategory creates a category as an admin; parentID "" makes a root.
func (e *env) newCategory(name, slug, parentID string, position int) Category {
	e.t.Helper()
	body := map[string]any{"name": name, "slug": slug, "position": position}
	if parentID != "" {
		body["parent_id"] = parentID
	}
	r := e.do("POST", "/api/v1/categories", e.adminToken(), body)
	expect(e.t, r, http.StatusCreated, "")
	var c Category
	r.json(e.t, &c)
	return c
}

// testClock is a clock the test sets by hand, for Config.now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestCreateProduct: POST /api/v1/products answers 201 with Location, derives
// and de-duplicates slugs, defaults the status to draft, refuses taken SKUs and
// explicit slugs, and names the field of every rule it enforces.
func TestCreateProduct(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		mugs := e.newCategory("Mugs", "mugs", "", 0)

		const image = "https://cdn.example.com/m.jpg"
		r := e.do("POST", "/api/v1/products", e.adminToken(), map[string]any{
			"sku": "MUG-1", "name": "Blue Mug", "price": map[string]any{"amount": 1999, "currency": "USD"},
			"description": "A stoneware mug.", "category_ids": []string{mugs.ID},
			"attributes": map[string]string{"color": "blue"}, "images": []string{image}})
		expect(t, r, http.StatusCreated, "")
		var p Product
		r.json(t, &p)
		if got, want := r.header.Get("Location"), "/api/v1/products/"+p.ID; p.ID == "" || got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		want := Product{ID: p.ID, SKU: "MUG-1", Name: "Blue Mug", Slug: "blue-mug",
			Description: "A stoneware mug.", Price: Money{Amount: 1999, Currency: "USD"},
			CategoryIDs: []string{mugs.ID}, Attributes: map[string]string{"color": "blue"},
			Images: []string{image}, Status: StatusDraft, Available: 0,
			CreatedAt: p.CreatedAt, UpdatedAt: p.CreatedAt}
		if !sameProduct(p, want) || p.CreatedAt.IsZero() {
			t.Errorf("created %+v\nwant %+v", p, want)
		}
		if got := e.readProduct(p.ID, e.adminToken()); !sameProduct(got, want) {
			t.Errorf("read back %+v\nwant %+v", got, want)
		}

		set := func(k string, v any) func(map[string]any) {
			return func(b map[string]any) { b[k] = v }
		}

		t.Run("slugs", func(t *testing.T) {
			e := e.forT(t)
			e.newProduct(productBody("EXPLICIT", 100, func(b map[string]any) {
				b["name"], b["slug"] = "Something Else", "red-kettle"
			}))
			for _, c := range []struct{ sku, name, want string }{
				{"K1", "Red Kettle", "red-kettle-2"}, // taken by an explicit slug
				{"K2", "Red Kettle", "red-kettle-3"},
				{"K3", "red  KETTLE!", "red-kettle-4"},
				{"S1", "  Hello, World!! 42 ", "hello-world-42"},
				{"S2", "***", "product"},
				{"S3", "Crème brûlée", "creme-brulee"},
			} {
				p := e.newProduct(productBody(c.sku, 100, set("name", c.name)))
				if p.Slug != c.want {
					t.Errorf("name %q: slug %q, want %q", c.name, p.Slug, c.want)
				}
			}
			r := e.do("POST", "/api/v1/products", e.adminToken(), productBody("K9", 100,
				func(b map[string]any) { b["slug"] = "red-kettle-2" }))
			expect(t, r, http.StatusConflict, "slug_taken")
		})

		t.Run("status", func(t *testing.T) {
			e := e.forT(t)
			for _, s := range []string{StatusActive, StatusDraft, StatusArchived} {
				p := e.newProduct(productBody("ST-"+s, 100, func(b map[string]any) { b["status"] = s }))
				if p.Status != s {
					t.Errorf("status %q, want %q", p.Status, s)
				}
			}
		})

		t.Run("sku taken", func(t *testing.T) {
			e := e.forT(t)
			r := e.do("POST", "/api/v1/products", e.adminToken(), productBody("MUG-1", 500))
			expect(t, r, http.StatusConflict, "sku_taken")
		})

		t.Run("rules", func(t *testing.T) {
			e := e.forT(t)
			long := func(n int) string { return strings.Repeat("a", n) }
			manyKeys := map[string]string{}
			for i := range 51 {
				manyKeys["k"+itoa(int64(i))] = "v"
			}
			manyIDs := make([]string, 21)
			for i := range manyIDs {
				manyIDs[i] = mugs.ID + "-" + itoa(int64(i))
			}
			manyImages := make([]string, 21)
			for i := range manyImages {
				manyImages[i] = "https://cdn.example.com/" + itoa(int64(i)) + ".jpg"
			}
			price := func(amount any, currency string) func(map[string]any) {
				return set("price", map[string]any{"amount": amount, "currency": currency})
			}
			for _, c := range []struct {
				name  string
				edit  func(map[string]any)
				field string
			}{
				{"sku empty", set("sku", ""), "sku"},
				{"sku space", set("sku", "MUG 2"), "sku"},
				{"sku slash", set("sku", "MUG/2"), "sku"},
				{"sku too long", set("sku", long(65)), "sku"},
				{"sku not a string", set("sku", 42), "sku"},
				{"name empty", set("name", ""), "name"},
				{"name blank", set("name", "   "), "name"},
				{"name too long", set("name", long(201)), "name"},
				{"price zero", price(0, "USD"), "price.amount"},
				{"price negative", price(-5, "USD"), "price.amount"},
				{"price too high", price(100_000_001, "USD"), "price.amount"},
				{"price fractional", price(19.99, "USD"), "price.amount"},
				{"price other currency", price(100, "EUR"), "price.currency"},
				{"price no currency", price(100, ""), "price.currency"},
				{"price not an object", set("price", 100), "price"},
				{"slug upper case", set("slug", "Blue-Mug"), "slug"},
				{"slug double hyphen", set("slug", "blue--mug"), "slug"},
				{"slug leading hyphen", set("slug", "-blue"), "slug"},
				{"slug space", set("slug", "blue mug"), "slug"},
				{"slug too long", set("slug", long(101)), "slug"},
				{"description too long", set("description", long(5001)), "description"},
				{"unknown category", set("category_ids", []string{"no-such-category"}), "category_ids"},
				{"too many categories", set("category_ids", manyIDs), "category_ids"},
				{"too many attributes", set("attributes", manyKeys), "attributes"},
				{"empty attribute key", set("attributes", map[string]string{"": "x"}), "attributes"},
				{"attribute key too long", set("attributes", map[string]string{long(51): "x"}),
					"attributes"},
				{"attribute value too long", set("attributes", map[string]string{"color": long(501)}),
					"attributes.color"},
				{"attribute not a string", set("attributes", map[string]any{"size": 3}), "attributes"},
				{"image ftp", set("images", []string{"ftp://cdn.example.com/a.jpg"}), "images"},
				{"image relative", set("images", []string{"/a.jpg"}), "images"},
				{"image javascript", set("images", []string{"javascript:alert(1)"}), "images"},
				{"image too long", set("images", []string{"https://cdn.example.com/" + long(2030)}),
					"images"},
				{"too many images", set("images", manyImages), "images"},
				{"bad status", set("status", "published"), "status"},
				{"unknown field", set("colour", "blue"), "colour"},
			} {
				t.Run(c.name, func(t *testing.T) {
					e := e.forT(t)
					body := productBody("RULE-1", 100, c.edit)
					expectInvalid(t, e.do("POST", "/api/v1/products", e.adminToken(), body), c.field)
				})
			}
			// The limits themselves are allowed.
			e.newProduct(productBody(long(64), 100_000_000, set("name", long(200)),
				set("slug", long(100)), set("description", long(5000)),
				set("attributes", map[string]string{long(50): long(500)}),
				set("images", []string{"http://cdn.example.com/" + long(2000)})))
			e.newProduct(productBody("a.b_c-D9", 1))
		})

		t.Run("bodies", func(t *testing.T) {
			e := e.forT(t)
			admin := e.adminToken()
			for _, bad := range []string{`{"sku": "X",`, `[1]`, `{} {}`, ``} {
				r := e.do("POST", "/api/v1/products", admin, bad)
				expect(t, r, http.StatusBadRequest, "malformed_json")
			}
			r := e.do("POST", "/api/v1/products", admin, `{"sku":"X"}`, "Content-Type", "text/plain")
			expect(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
			big := `{"sku":"X","description":"` + strings.Repeat("a", 1<<20) + `"}`
			expect(t, e.do("POST", "/api/v1/products", admin, big), http.StatusRequestEntityTooLarge,
				"body_too_large")
		})

		// Nothing refused above was stored.
		all := e.walkListing(e.adminToken(), "status=any", 100)
		if got, want := len(all), 13; got != want {
			t.Errorf("%d products stored, want %d: %v", got, want, idsOf(all))
		}
	})
}

// sameProduct compares two products, times included.
func sameProduct(a, b Product) bool {
	return a.ID == b.ID && a.SKU == b.SKU && a.Name == b.Name && a.Slug == b.Slug &&
		a.Description == b.Description && a.Price == b.Price &&
		slices.Equal(a.CategoryIDs, b.CategoryIDs) && mapsEqual(a.Attributes, b.Attributes) &&
		slices.Equal(a.Images, b.Images) && a.Status == b.Status && a.Available == b.Available &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestAdminRoutes: every admin route answers 401 (with WWW-Authenticate) to
// an anonymous caller or a bad token and 403 to a customer, and changes
// nothing.
func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("ADM-1", 1000, 5)
		c := e.newCategory("Tools", "tools", "", 0)
		product := "/api/v1/products/" + p.ID
		routes := []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/products", productBody("ADM-2", 100)},
			{"PATCH", product, map[string]any{"price": map[string]any{"amount": 1, "currency": "USD"}}},
			{"DELETE", product, nil},
			{"GET", product + "/inventory", nil},
			{"POST", product + "/inventory/adjustments", map[string]any{"delta": -5, "reason": "x"}},
			{"POST", "/api/v1/categories", map[string]any{"name": "New", "slug": "new"}},
			{"PATCH", "/api/v1/categories/" + c.ID, map[string]any{"name": "Renamed"}},
			{"DELETE", "/api/v1/categories/" + c.ID, nil},
		}
		expired := e.issuer.TokenWith(func(c *authtest.Claims) {
			c.Roles, c.Expiry = []string{"admin", "customer"}, time.Now().Add(-time.Hour)
		})
		for _, route := range routes {
			for _, who := range []struct {
				name, token string
				status      int
				code        string
			}{
				{"anonymous", "", http.StatusUnauthorized, "unauthenticated"},
				{"garbage token", "not-a-jwt", http.StatusUnauthorized, "unauthenticated"},
				{"expired token", expired, http.StatusUnauthorized, "unauthenticated"},
				{"customer", e.customerToken(), http.StatusForbidden, "forbidden"},
			} {
				r := e.do(route.method, route.path, who.token, route.body)
				what := route.method + " " + route.path + " as " + who.name
				if r.status != who.status {
					t.Errorf("%s: status %d, want %d", what, r.status, who.status)
					continue
				}
				if code, _ := r.problem(t); code != who.code {
					t.Errorf("%s: code %q, want %q", what, code, who.code)
				}
				challenge := r.header.Get("WWW-Authenticate")
				if who.status == http.StatusUnauthorized && !strings.HasPrefix(challenge, "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", what, challenge)
				}
			}
		}
		got := e.readProduct(p.ID, "")
		if got.Price.Amount != 1000 || got.Status != StatusActive || got.Available != 5 {
			t.Errorf("the product changed: %+v", got)
		}
		if tree := e.treeOverHTTP(); treeShape(tree) != "tools" || tree[0].Name != "Tools" {
			t.Errorf("the categories changed: %s", treeShape(tree))
		}
		if n := len(e.walkListing(e.adminToken(), "status=any", 10)); n != 1 {
			t.Errorf("%d products, want 1", n)
		}
		// The public reading routes need no login: a bad token is no token there.
		for _, path := range []string{product, "/api/v1/products"} {
			expect(t, e.do("GET", path, "not-a-jwt", nil), http.StatusOK, "")
			expect(t, e.do("GET", path, expired, nil), http.StatusOK, "")
		}
	})
}

// TestReadProduct: GET by id answers the product with an ETag that changes
// with an edit and with the availability, If-None-Match gives 304, and drafts
// and archived products are hidden from everyone but admins.
func TestReadProduct(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("READ-1", 1500, 5)

		r := e.getProduct(p.ID, "")
		expect(t, r, http.StatusOK, "")
		if got := r.header.Get("ETag"); got != `"1-5"` {
			t.Errorf("ETag %s, want \"1-5\"", got)
		}
		var got Product
		r.json(t, &got)
		if got.ID != p.ID || got.Available != 5 || got.Price.Amount != 1500 ||
			got.Status != StatusActive {
			t.Errorf("read %+v", got)
		}

		conditional := func(t *testing.T, inm string, want int, etag string) {
			t.Helper()
			r := e.forT(t).getProduct(p.ID, "", "If-None-Match", inm)
			if r.status != want {
				t.Fatalf("If-None-Match %s: status %d, want %d", inm, r.status, want)
			}
			if r.header.Get("ETag") != etag {
				t.Errorf("If-None-Match %s: ETag %s, want %s", inm, r.header.Get("ETag"), etag)
			}
			if want == http.StatusNotModified && len(r.body) != 0 {
				t.Errorf("a 304 with a body: %s", r.body)
			}
		}
		t.Run("if-none-match", func(t *testing.T) {
			for _, c := range []struct {
				inm  string
				want int
			}{
				{`"1-5"`, http.StatusNotModified},
				{`W/"1-5"`, http.StatusNotModified},
				{`"0-1", "1-5"`, http.StatusNotModified},
				{`*`, http.StatusNotModified},
				{`"1-4"`, http.StatusOK},
				{`"2-5"`, http.StatusOK},
				{`garbage`, http.StatusOK},
			} {
				conditional(t, c.inm, c.want, `"1-5"`)
			}
		})

		t.Run("etag follows stock and edits", func(t *testing.T) {
			e := e.forT(t)
			e.adjust(p.ID, 2)
			conditional(t, `"1-5"`, http.StatusOK, `"1-7"`)
			conditional(t, `"1-7"`, http.StatusNotModified, `"1-7"`)
			expect(t, e.patchProduct(p.ID, map[string]any{"name": "Renamed"}), http.StatusOK, "")
			conditional(t, `"1-7"`, http.StatusOK, `"2-7"`)
			conditional(t, `"2-7"`, http.StatusNotModified, `"2-7"`)
		})

		t.Run("visibility", func(t *testing.T) {
			e := e.forT(t)
			draft := e.newProduct(productBody("DRAFT-1", 100,
				func(b map[string]any) { delete(b, "status") }))
			archived := e.createProduct("ARCH-1", 100, 0)
			r := e.do("DELETE", "/api/v1/products/"+archived.ID, e.adminToken(), nil)
			expect(t, r, http.StatusNoContent, "")
			for _, c := range []struct {
				id, status string
			}{{draft.ID, StatusDraft}, {archived.ID, StatusArchived}} {
				expect(t, e.getProduct(c.id, ""), http.StatusNotFound, "not_found")
				expect(t, e.getProduct(c.id, e.customerToken()), http.StatusNotFound, "not_found")
				if got := e.readProduct(c.id, e.adminToken()); got.Status != c.status {
					t.Errorf("admin reads status %q, want %q", got.Status, c.status)
				}
			}
			for _, token := range []string{"", e.adminToken()} {
				expect(t, e.getProduct("no-such-product", token), http.StatusNotFound, "not_found")
			}
		})
	})
}

// TestUpdateProduct: PATCH changes only what it names, bumps the version in
// the ETag, honours If-Match, refuses nulls (but for description), and checks
// the same rules as creation.
func TestUpdateProduct(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		clock := &testClock{t: time.Date(2031, 3, 1, 9, 0, 0, 0, time.UTC)}
		e := start(t, dbURL, func(c *Config) { c.now = clock.now })
		cups := e.newCategory("Cups", "cups", "", 0)
		plates := e.newCategory("Plates", "plates", "", 1)
		before := e.newProduct(productBody("UPD-1", 1000, func(b map[string]any) {
			b["name"], b["description"], b["category_ids"] = "Tea Cup", "Porcelain.", []string{cups.ID}
			b["attributes"] = map[string]string{"size": "s"}
			b["images"] = []string{"https://cdn.example.com/c.jpg"}
		}))
		other := e.newProduct(productBody("UPD-2", 1000,
			func(b map[string]any) { b["slug"] = "taken-slug" }))

		clock.set(clock.now().Add(time.Minute))
		r := e.patchProduct(before.ID, priceBody(2500))
		expect(t, r, http.StatusOK, "")
		if got := r.header.Get("ETag"); got != `"2-0"` {
			t.Errorf("ETag %s, want \"2-0\"", got)
		}
		var got Product
		r.json(t, &got)
		want := before
		want.Price.Amount, want.UpdatedAt = 2500, clock.now()
		if !sameProduct(got, want) {
			t.Errorf("patched %+v\nwant %+v", got, want)
		}
		if read := e.readProduct(before.ID, e.adminToken()); !sameProduct(read, want) {
			t.Errorf("read back %+v\nwant %+v", read, want)
		}

		t.Run("if-match", func(t *testing.T) {
			e := e.forT(t)
			body := map[string]any{"name": "Stale Cup"}
			// A weak tag never matches (RFC 9110's strong comparison), even of
			// the current version.
			for _, stale := range []string{`"1-0"`, `"3-0"`, `W/"1-0"`, `W/"2-0"`, `W/"2-0", W/"1-0"`,
				`garbage`} {
				r := e.patchProduct(before.ID, body, "If-Match", stale)
				expect(t, r, http.StatusPreconditionFailed, "precondition_failed")
			}
			if got := e.readProduct(before.ID, e.adminToken()); got.Name != "Tea Cup" {
				t.Errorf("a refused PATCH changed the name to %q", got.Name)
			}
			e.adjust(before.ID, 3) // availability alone does not make the ETag stale for edits
			r := e.patchProduct(before.ID, map[string]any{"name": "Coffee Cup"}, "If-Match", `"2-0"`)
			expect(t, r, http.StatusOK, "")
			if got := r.header.Get("ETag"); got != `"3-3"` {
				t.Errorf("ETag %s, want \"3-3\"", got)
			}
			r = e.patchProduct(before.ID, map[string]any{"name": "Mug Cup"}, "If-Match", `"3-3"`)
			expect(t, r, http.StatusOK, "")
			if got := r.header.Get("ETag"); got != `"4-3"` {
				t.Errorf("ETag %s, want \"4-3\"", got)
			}
		})

		t.Run("fields", func(t *testing.T) {
			e := e.forT(t)
			cats, attrs := []string{plates.ID, cups.ID}, map[string]string{"size": "l", "c": "red"}
			r := e.patchProduct(before.ID, map[string]any{"sku": "UPD-1B", "slug": "mug-cup",
				"category_ids": cats, "attributes": attrs, "images": []string{}, "status": StatusDraft})
			expect(t, r, http.StatusOK, "")
			var got Product
			r.json(t, &got)
			if got.SKU != "UPD-1B" || got.Slug != "mug-cup" || !slices.Equal(got.CategoryIDs, cats) ||
				!mapsEqual(got.Attributes, attrs) || len(got.Images) != 0 || got.Status != StatusDraft ||
				got.Description != "Porcelain." || got.Price.Amount != 2500 {
				t.Errorf("patched %+v", got)
			}
			r = e.patchProduct(before.ID, map[string]any{"description": nil})
			expect(t, r, http.StatusOK, "")
			r.json(t, &got)
			if got.Description != "" {
				t.Errorf("description %q after null, want empty", got.Description)
			}
		})

		t.Run("refused", func(t *testing.T) {
			e := e.forT(t)
			cur := e.getProduct(before.ID, e.adminToken()).header.Get("ETag")
			for _, c := range []struct {
				name  string
				body  map[string]any
				field string
			}{
				{"null sku", map[string]any{"sku": nil}, "sku"},
				{"null name", map[string]any{"name": nil}, "name"},
				{"null price", map[string]any{"price": nil}, "price"},
				{"null slug", map[string]any{"slug": nil}, "slug"},
				{"null category_ids", map[string]any{"category_ids": nil}, "category_ids"},
				{"null attributes", map[string]any{"attributes": nil}, "attributes"},
				{"null images", map[string]any{"images": nil}, "images"},
				{"null status", map[string]any{"status": nil}, "status"},
				{"bad sku", map[string]any{"sku": "a b"}, "sku"},
				{"empty name", map[string]any{"name": ""}, "name"},
				{"zero price", priceBody(0), "price.amount"},
				{"other currency", map[string]any{"price": map[string]any{"amount": 5, "currency": "GBP"}},
					"price.currency"},
				{"bad slug", map[string]any{"slug": "Mug_Cup"}, "slug"},
				{"long description", map[string]any{"description": strings.Repeat("d", 5001)},
					"description"},
				{"unknown category", map[string]any{"category_ids": []string{"nope"}}, "category_ids"},
				{"bad image", map[string]any{"images": []string{"file:///etc/passwd"}}, "images"},
				{"bad status", map[string]any{"status": "gone"}, "status"},
				{"unknown field", map[string]any{"version": 9}, "version"},
			} {
				expectInvalid(t, e.patchProduct(before.ID, c.body), c.field)
			}
			r := e.patchProduct(before.ID, map[string]any{"sku": "UPD-2"})
			expect(t, r, http.StatusConflict, "sku_taken")
			r = e.patchProduct(before.ID, map[string]any{"slug": other.Slug})
			expect(t, r, http.StatusConflict, "slug_taken")
			r = e.patchProduct("no-such-product", map[string]any{"name": "X"})
			expect(t, r, http.StatusNotFound, "not_found")
			expect(t, e.patchProduct(before.ID, `{"name":`), http.StatusBadRequest, "malformed_json")
			if got := e.getProduct(before.ID, e.adminToken()).header.Get("ETag"); got != cur {
				t.Errorf("refused PATCHes moved the ETag from %s to %s", cur, got)
			}
		})

		// The fields of a refusal come in one order, the same on every try,
		// with attributes by key: not in a map's order. (The catalog adds them
		// in the request's field order; the check leaves errs free to sort.)
		t.Run("errors in a stable order", func(t *testing.T) {
			e := e.forT(t)
			long := strings.Repeat("v", 501)
			attrs := map[string]string{"c": long, "a": long, "d": long, "b": long}
			nulls := map[string]any{}
			nullable := []string{"sku", "name", "price", "slug", "category_ids", "attributes", "images", "status"}
			for _, f := range nullable {
				nulls[f] = nil
			}
			for _, c := range []struct {
				name   string
				do     func() response
				fields []string
			}{
				{"nulls", func() response { return e.patchProduct(before.ID, nulls) }, nullable},
				{"attributes", func() response {
					return e.patchProduct(before.ID, map[string]any{"attributes": attrs, "sku": "a b"})
				}, []string{"sku", "attributes.a", "attributes.b", "attributes.c", "attributes.d"}},
				{"create", func() response {
					return e.do("POST", "/api/v1/products", e.adminToken(),
						productBody("a b", 0, func(b map[string]any) { b["attributes"] = attrs }))
				}, []string{"sku", "price.amount", "attributes.a", "attributes.b", "attributes.c",
					"attributes.d"}},
			} {
				var first []string
				for try := range 10 {
					r := c.do()
					expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
					_, got := r.problem(t)
					if try == 0 {
						first = got
					}
					if !slices.Equal(got, first) {
						t.Fatalf("%s: fields %q, then %q", c.name, first, got)
					}
				}
				if got, want := slices.Sorted(slices.Values(first)),
					slices.Sorted(slices.Values(c.fields)); !slices.Equal(got, want) {
					t.Errorf("%s: fields %q, want %q in some order", c.name, first, c.fields)
				}
				attrs := slices.DeleteFunc(slices.Clone(first), func(f string) bool {
					return !strings.HasPrefix(f, "attributes.")
				})
				if !slices.IsSorted(attrs) {
					t.Errorf("%s: attributes %q, want them by key", c.name, attrs)
				}
			}
		})
	})
}

// TestArchiveProduct: DELETE archives: 204, gone for the public (listing and
// GET), still there for admins and for the internal lookup; again → 204.
func TestArchiveProduct(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		p := e.createProduct("ARC-1", 700, 2)
		keep := e.createProduct("ARC-2", 800, 0)
		if got := idsOf(e.listPage("", "").Items); !slices.Equal(got, []string{keep.ID, p.ID}) {
			t.Fatalf("listed %v before archiving", got)
		}
		for range 2 {
			r := e.do("DELETE", "/api/v1/products/"+p.ID, e.adminToken(), nil)
			expect(t, r, http.StatusNoContent, "")
			expect(t, e.getProduct(p.ID, ""), http.StatusNotFound, "not_found")
			if got := idsOf(e.listPage("", "").Items); !slices.Equal(got, []string{keep.ID}) {
				t.Errorf("listed %v after archiving", got)
			}
			got := e.readProduct(p.ID, e.adminToken())
			if got.Status != StatusArchived || got.Available != 2 {
				t.Errorf("admin reads %+v", got)
			}
			r = e.call("GET", "/internal/products?ids="+p.ID, nil)
			expect(t, r, http.StatusOK, "")
			var set struct{ Items []Product }
			r.json(t, &set)
			if len(set.Items) != 1 || set.Items[0].Status != StatusArchived {
				t.Errorf("internal lookup: %s", r.body)
			}
			archived := idsOf(e.listPage(e.adminToken(), "status=archived").Items)
			if !slices.Equal(archived, []string{p.ID}) {
				t.Errorf("admin lists archived %v", archived)
			}
		}
		r := e.do("DELETE", "/api/v1/products/no-such-product", e.adminToken(), nil)
		expect(t, r, http.StatusNotFound, "not_found")

		t.Run("if-match", func(t *testing.T) {
			e := e.forT(t)
			c := e.createProduct("ARC-3", 900, 4) // version 1
			del := func(ifMatch string) response {
				return e.do("DELETE", "/api/v1/products/"+c.ID, e.adminToken(), nil, "If-Match", ifMatch)
			}
			for _, stale := range []string{`"2-4"`, `W/"1-4"`, `W/"1-4", "2-4"`, `garbage`} {
				expect(t, del(stale), http.StatusPreconditionFailed, "precondition_failed")
				if got := e.readProduct(c.ID, e.adminToken()); got.Status != StatusActive {
					t.Fatalf("DELETE with If-Match %s archived it", stale)
				}
			}
			expect(t, del(`"0-0", "1-0"`), http.StatusNoContent, "") // the version counts, not the stock
			if got := e.readProduct(c.ID, e.adminToken()); got.Status != StatusArchived {
				t.Fatalf("status %s after DELETE", got.Status)
			}
			expect(t, del(`"1-4"`), http.StatusPreconditionFailed, "precondition_failed") // now version 2
			expect(t, del(`"2-4"`), http.StatusNoContent, "")
			expect(t, del(`*`), http.StatusNoContent, "")
		})
	})
}

// listedItem is what the listing test knows of a product it made.
type listedItem struct {
	id, name, description string
	price, stock          int64
	status                string
	created               time.Time
	categories            []string // slugs, with every ancestor
}

// order sorts items as the listing does for sort, ties by id ascending.
func listingOrder(items []*listedItem, sort string) []string {
	s := slices.Clone(items)
	slices.SortFunc(s, func(a, b *listedItem) int {
		var c int
		switch sort {
		case "price":
			c = cmp.Compare(a.price, b.price)
		case "-price":
			c = cmp.Compare(b.price, a.price)
		case "name":
			c = strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name))
		default:
			c = b.created.Compare(a.created)
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	ids := make([]string, len(s))
	for i, it := range s {
		ids[i] = it.id
	}
	return ids
}

// TestListProducts: sorts with id tie-breaks, every filter alone and
// combined, keyset pages that visit every product once, visibility by role,
// and a 422 naming each bad parameter.
func TestListProducts(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
		clock := &testClock{t: t0}
		e := start(t, dbURL, func(c *Config) { c.now = clock.now })
		kitchen := e.newCategory("Kitchen", "kitchen", "", 0)
		mugs := e.newCategory("Mugs", "mugs", kitchen.ID, 0)
		espresso := e.newCategory("Espresso", "espresso", mugs.ID, 0)
		linen := e.newCategory("Linen", "linen", "", 1)
		catIDs := map[string]string{"kitchen": kitchen.ID, "mugs": mugs.ID, "espresso": espresso.ID,
			"linen": linen.ID}
		ancestors := map[string][]string{"kitchen": {"kitchen"}, "mugs": {"mugs", "kitchen"},
			"espresso": {"espresso", "mugs", "kitchen"}, "linen": {"linen"}}

		// Names differ in their first letter (or not at all), so byte order and
		// any collation agree; equal prices, names and creation times test the
		// tie-break.
		var items []*listedItem
		for _, s := range []struct {
			sku, name, description string
			price, stock           int64
			category, status       string
			after                  time.Duration
		}{
			{"A", "Alpha Mug", "Hand-Glazed stoneware", 500, 3, "mugs", StatusActive, 0},
			{"B", "beta mug", "", 500, 0, "kitchen", StatusActive, time.Second},
			{"G", "Gamma Cup", "tiny", 1500, 2, "espresso", StatusActive, 2 * time.Second},
			{"D", "Delta 100% Cotton", "soft towel", 2000, 1, "linen", StatusActive, 2 * time.Second},
			{"E", "Echo Towel", "snake_case label", 2000, 0, "linen", StatusActive, 3 * time.Second},
			{"S1", "Same", "", 700, 4, "", StatusActive, 4 * time.Second},
			{"S2", "SAME", "", 800, 0, "", StatusActive, 4 * time.Second},
			{"S3", "same", "", 700, 1, "", StatusActive, 4 * time.Second},
			{"DR", "Draft Mug", "not yet", 100, 5, "kitchen", StatusDraft, 5 * time.Second},
			{"AR", "Archived Mug", "gone", 100, 5, "kitchen", StatusArchived, 6 * time.Second},
		} {
			clock.set(t0.Add(s.after))
			var cats []string
			if s.category != "" {
				cats = []string{catIDs[s.category]}
			}
			p := e.newProduct(productBody("L-"+s.sku, s.price, func(b map[string]any) {
				b["name"], b["description"] = s.name, s.description
				b["category_ids"], b["status"] = cats, s.status
			}))
			if s.stock > 0 {
				e.adjust(p.ID, s.stock)
			}
			items = append(items, &listedItem{id: p.ID, name: s.name, description: s.description,
				price: s.price, stock: s.stock, status: s.status, created: t0.Add(s.after),
				categories: ancestors[s.category]})
		}
		filter := func(keep func(*listedItem) bool) []*listedItem {
			var out []*listedItem
			for _, it := range items {
				if keep(it) {
					out = append(out, it)
				}
			}
			return out
		}
		active := func(it *listedItem) bool { return it.status == StatusActive }
		public := filter(active)

		t.Run("sorts and pages", func(t *testing.T) {
			e := e.forT(t)
			for _, sort := range []string{"", "-created_at", "price", "-price", "name"} {
				want := listingOrder(public, sort)
				pg := e.listPage("", "sort="+sort)
				if got := idsOf(pg.Items); !slices.Equal(got, want) || pg.NextCursor != "" {
					t.Errorf("sort %q: %v (next %q)\nwant %v", sort, got, pg.NextCursor, want)
				}
				for _, limit := range []int{1, 3} {
					if got := idsOf(e.walkListing("", "sort="+sort, limit)); !slices.Equal(got, want) {
						t.Errorf("sort %q, pages of %d: %v\nwant %v", sort, limit, got, want)
					}
				}
			}
			// The answer carries each product's availability and fields.
			for _, p := range e.listPage("", "sort=price").Items {
				it := items[slices.IndexFunc(items, func(it *listedItem) bool { return it.id == p.ID })]
				if p.Available != it.stock || p.Name != it.name || p.Price.Amount != it.price ||
					!p.CreatedAt.Equal(it.created) {
					t.Errorf("listed %+v, want %+v", p, *it)
				}
			}
		})

		t.Run("filters", func(t *testing.T) {
			e := e.forT(t)
			inCat := func(slug string) func(*listedItem) bool {
				return func(it *listedItem) bool { return slices.Contains(it.categories, slug) }
			}
			has := func(s string) func(*listedItem) bool {
				return func(it *listedItem) bool {
					text := strings.ToLower(it.name + " " + it.description)
					return strings.Contains(text, strings.ToLower(s))
				}
			}
			priced := func(lo, hi int64) func(*listedItem) bool {
				return func(it *listedItem) bool { return it.price >= lo && it.price <= hi }
			}
			stocked := func(it *listedItem) bool { return it.stock > 0 }
			all := func(fs ...func(*listedItem) bool) func(*listedItem) bool {
				return func(it *listedItem) bool {
					for _, f := range fs {
						if !f(it) {
							return false
						}
					}
					return true
				}
			}
			for _, c := range []struct {
				query string
				keep  func(*listedItem) bool
				want  int // how many, so that an always-true filter cannot pass
			}{
				{"category=kitchen", inCat("kitchen"), 3},
				{"category=mugs", inCat("mugs"), 2},
				{"category=espresso", inCat("espresso"), 1},
				{"category=linen", inCat("linen"), 2},
				{"category=no-such-category", inCat("none"), 0},
				{"q=mug", has("mug"), 2},
				{"q=MUG", has("mug"), 2},
				{"q=+mug+", has("mug"), 2},
				{"q=glazed", has("glazed"), 1},
				{"q=TOWEL", has("towel"), 2},
				{"q=%25", has("%"), 1},
				{"q=100%25", has("100%"), 1},
				{"q=_", has("_"), 1},
				{"q=e_c", has("e_c"), 1},
				{"q=zzz", has("zzz"), 0},
				{"q=", active, 8},
				{"min_price=700", priced(700, 1<<40), 6},
				{"max_price=700", priced(0, 700), 4},
				{"min_price=500&max_price=800", priced(500, 800), 5},
				{"min_price=800&max_price=800", priced(800, 800), 1},
				{"min_price=0&max_price=499", priced(0, 499), 0},
				{"in_stock=true", stocked, 5},
				{"in_stock=false", active, 8},
				{"category=kitchen&in_stock=true", all(inCat("kitchen"), stocked), 2},
				{"category=kitchen&q=mug&max_price=500&in_stock=true",
					all(inCat("kitchen"), has("mug"), priced(0, 500), stocked), 1},
				{"category=linen&min_price=2000&q=o", all(inCat("linen"), has("o")), 2},
				{"foo=bar&page=3&sort_by=name", active, 8},
			} {
				want := listingOrder(filter(all(active, c.keep)), "-created_at")
				if len(want) != c.want {
					t.Fatalf("%s: the test expects %d products but its filter keeps %d",
						c.query, c.want, len(want))
				}
				if got := idsOf(e.walkListing("", c.query, 2)); !slices.Equal(got, want) {
					t.Errorf("%s: %v\nwant %v", c.query, got, want)
				}
			}
			// Filters with another sort, a page at a time.
			want := listingOrder(filter(all(active, inCat("kitchen"))), "price")
			got := idsOf(e.walkListing("", "category=kitchen&sort=price", 1))
			if !slices.Equal(got, want) {
				t.Errorf("kitchen by price: %v\nwant %v", got, want)
			}
		})

		t.Run("visibility", func(t *testing.T) {
			e := e.forT(t)
			is := func(s string) func(*listedItem) bool {
				return func(it *listedItem) bool { return it.status == s }
			}
			for _, c := range []struct {
				who, token, query string
				keep              func(*listedItem) bool
			}{
				{"public", "", "status=draft", active},
				{"public", "", "status=any", active},
				{"public", "", "status=bogus", active},
				{"customer", e.customerToken(), "status=any", active},
				{"admin", e.adminToken(), "", active},
				{"admin", e.adminToken(), "status=active", active},
				{"admin", e.adminToken(), "status=draft", is(StatusDraft)},
				{"admin", e.adminToken(), "status=archived", is(StatusArchived)},
				{"admin", e.adminToken(), "status=any", func(*listedItem) bool { return true }},
				{"admin", e.adminToken(), "status=any&category=kitchen&q=mug", func(it *listedItem) bool {
					return slices.Contains(it.categories, "kitchen") &&
						strings.Contains(strings.ToLower(it.name+" "+it.description), "mug")
				}},
			} {
				want := listingOrder(filter(c.keep), "name")
				got := idsOf(e.walkListing(c.token, c.query+"&sort=name", 4))
				if !slices.Equal(got, want) {
					t.Errorf("%s, %s: %v\nwant %v", c.who, c.query, got, want)
				}
			}
		})

		t.Run("bad parameters", func(t *testing.T) {
			e := e.forT(t)
			cursorOf := func(query string) string {
				pg := e.listPage("", query+"&limit=1")
				if pg.NextCursor == "" {
					t.Fatalf("%s: no next cursor", query)
				}
				return pg.NextCursor
			}
			raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
			for _, c := range []struct {
				token, query, field string
			}{
				{"", "limit=0", "limit"},
				{"", "limit=101", "limit"},
				{"", "limit=-1", "limit"},
				{"", "limit=ten", "limit"},
				{"", "cursor=!!!", "cursor"},
				{"", "cursor=" + raw("not json"), "cursor"},
				{"", "cursor=" + raw(`{"id":"x","zz":1}`), "cursor"},
				{"", "cursor=" + raw(`{"id":"x"}`), "cursor"},
				{"", "sort=bogus", "sort"},
				{"", "sort=created_at", "sort"},
				{"", "sort=PRICE", "sort"},
				{"", "sort=-name", "sort"},
				{"", "min_price=-1", "min_price"},
				{"", "min_price=1.5", "min_price"},
				{"", "min_price=abc", "min_price"},
				{"", "max_price=-5", "max_price"},
				{"", "max_price=9999999999999999999999", "max_price"},
				{"", "min_price=10&max_price=5", "max_price"},
				{"", "in_stock=maybe", "in_stock"},
				{"", "q=" + strings.Repeat("x", 101), "q"},
				{e.adminToken(), "status=bogus", "status"},
				{"", "sort=name&cursor=" + cursorOf("sort=price"), "cursor"},
				{"", "sort=-price&cursor=" + cursorOf("sort=price"), "cursor"},
				{"", "sort=price&cursor=" + cursorOf("sort=-price"), "cursor"},
				{"", "cursor=" + cursorOf("sort=price"), "cursor"},
				{"", "sort=price&cursor=" + cursorOf(""), "cursor"},
				{"", "sort=-created_at&cursor=" + cursorOf("sort=name"), "cursor"},
			} {
				expectInvalid(t, e.do("GET", "/api/v1/products?"+c.query, c.token, nil), c.field)
			}
		})
	})
}
