package catalog

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// categoryTree reads GET /api/v1/categories.
func (e *env) treeOverHTTP() []*Category {
	e.t.Helper()
	r := e.do("GET", "/api/v1/categories", "", nil)
	expect(e.t, r, http.StatusOK, "")
	var tree struct {
		Items []*Category `json:"items"`
	}
	r.json(e.t, &tree)
	return tree.Items
}

// shape renders a tree as slugs, children in brackets: "a[b c[d]] e".
func treeShape(cs []*Category) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Slug
		if len(c.Children) > 0 {
			parts[i] += "[" + treeShape(c.Children) + "]"
		}
	}
	return strings.Join(parts, " ")
}

// checkParents checks that every node's parent_id names the node it hangs from.
func checkParents(t testing.TB, cs []*Category, parent *string) {
	t.Helper()
	for _, c := range cs {
		if (parent == nil) != (c.ParentID == nil) || parent != nil && *parent != *c.ParentID {
			t.Errorf("category %s: parent_id %v, want %v", c.Slug, c.ParentID, parent)
		}
		id := c.ID
		checkParents(t, c.Children, &id)
	}
}

// patchCategory changes a category as an admin.
func (e *env) patchCategory(id string, body any) response {
	e.t.Helper()
	return e.do("PATCH", "/api/v1/categories/"+id, e.adminToken(), body)
}

// TestCategories: the tree's shape and order, creation, renames and moves
// (never under itself or a descendant), and deletion of empty categories only.
func TestCategories(t *testing.T) {
	t.Parallel()
	type obj = map[string]any
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		if tree := e.treeOverHTTP(); len(tree) != 0 {
			t.Fatalf("an empty catalog has categories: %+v", tree)
		}

		r := e.do("POST", "/api/v1/categories", e.adminToken(), obj{"name": "Kitchen", "slug": "kitchen"})
		expect(t, r, http.StatusCreated, "")
		var kitchen Category
		r.json(t, &kitchen)
		location := "/api/v1/categories/" + kitchen.ID
		if got := r.header.Get("Location"); kitchen.ID == "" || got != location {
			t.Errorf("Location %q, want %q", got, location)
		}
		if kitchen.Name != "Kitchen" || kitchen.Slug != "kitchen" || kitchen.ParentID != nil ||
			kitchen.Position != 0 || kitchen.Children == nil || len(kitchen.Children) != 0 {
			t.Errorf("created %+v", kitchen)
		}
		// Siblings by position, then name.
		garden := e.newCategory("Garden", "garden", "", -1)
		attic := e.newCategory("Attic", "attic", "", 0)
		mugs := e.newCategory("Mugs", "mugs", kitchen.ID, 0)
		if mugs.ParentID == nil || *mugs.ParentID != kitchen.ID || mugs.Position != 0 {
			t.Errorf("created %+v under %s", mugs, kitchen.ID)
		}
		cups := e.newCategory("Cups", "cups", kitchen.ID, 0)
		plates := e.newCategory("Plates", "plates", kitchen.ID, -5)
		espresso := e.newCategory("Espresso", "espresso", mugs.ID, 0)
		latte := e.newCategory("Latte", "latte", mugs.ID, 0)
		const first = "garden attic kitchen[plates cups mugs[espresso latte]]"
		tree := e.treeOverHTTP()
		if got := treeShape(tree); got != first {
			t.Errorf("tree %s\nwant %s", got, first)
		}
		checkParents(t, tree, nil)

		t.Run("create refused", func(t *testing.T) {
			e := e.forT(t)
			post := func(body any) response {
				return e.do("POST", "/api/v1/categories", e.adminToken(), body)
			}
			r := post(obj{"name": "Kitchen 2", "slug": "kitchen"})
			expect(t, r, http.StatusConflict, "slug_taken")
			for _, c := range []struct {
				name  string
				body  obj
				field string
			}{
				{"unknown parent", obj{"name": "X", "slug": "x", "parent_id": "nope"}, "parent_id"},
				{"no name", obj{"slug": "x"}, "name"},
				{"blank name", obj{"name": "  ", "slug": "x"}, "name"},
				{"long name", obj{"name": strings.Repeat("n", 101), "slug": "x"}, "name"},
				{"no slug", obj{"name": "X"}, "slug"},
				{"bad slug", obj{"name": "X", "slug": "Not A Slug"}, "slug"},
				{"long slug", obj{"name": "X", "slug": strings.Repeat("s", 101)}, "slug"},
				{"position not an integer", obj{"name": "X", "slug": "x", "position": "1"}, "position"},
				{"parent not a string", obj{"name": "X", "slug": "x", "parent_id": 7}, "parent_id"},
				{"unknown field", obj{"name": "X", "slug": "x", "children": []string{}}, "children"},
			} {
				t.Run(c.name, func(t *testing.T) {
					e := e.forT(t)
					expectInvalid(t, e.do("POST", "/api/v1/categories", e.adminToken(), c.body), c.field)
				})
			}
			expect(t, post(`{"name":"X",`), http.StatusBadRequest, "malformed_json")
			if got := treeShape(e.treeOverHTTP()); got != first {
				t.Errorf("refused creations changed the tree: %s", got)
			}
		})

		t.Run("update", func(t *testing.T) {
			e := e.forT(t)
			r := e.patchCategory(mugs.ID, obj{"name": "Coffee Mugs"})
			expect(t, r, http.StatusOK, "")
			var got Category
			r.json(t, &got)
			if got.Name != "Coffee Mugs" || got.Slug != "mugs" || got.ParentID == nil ||
				*got.ParentID != kitchen.ID || treeShape(got.Children) != "espresso latte" {
				t.Errorf("renamed: %+v", got)
			}
			// Move mugs (with its subtree) under garden, reorder, re-slug.
			move := obj{"parent_id": garden.ID, "position": 3, "slug": "coffee-mugs"}
			r = e.patchCategory(mugs.ID, move)
			expect(t, r, http.StatusOK, "")
			r.json(t, &got)
			if got.ParentID == nil || *got.ParentID != garden.ID || got.Position != 3 ||
				got.Slug != "coffee-mugs" || treeShape(got.Children) != "espresso latte" {
				t.Errorf("moved: %+v", got)
			}
			expect(t, e.patchCategory(latte.ID, obj{"position": -1}), http.StatusOK, "")
			// A null parent makes a root.
			r = e.patchCategory(cups.ID, obj{"parent_id": nil})
			expect(t, r, http.StatusOK, "")
			r.json(t, &got)
			if got.ParentID != nil {
				t.Errorf("parent_id %v after null", *got.ParentID)
			}
			const want = "garden[coffee-mugs[latte espresso]] attic cups kitchen[plates]"
			tree := e.treeOverHTTP()
			if got := treeShape(tree); got != want {
				t.Errorf("tree %s\nwant %s", got, want)
			}
			checkParents(t, tree, nil)
		})

		t.Run("update refused", func(t *testing.T) {
			e := e.forT(t)
			before := treeShape(e.treeOverHTTP())
			for _, c := range []struct {
				name, id string
				body     obj
				field    string
			}{
				{"itself", garden.ID, obj{"parent_id": garden.ID}, "parent_id"},
				{"its child", garden.ID, obj{"parent_id": mugs.ID}, "parent_id"},
				{"its grandchild", garden.ID, obj{"parent_id": espresso.ID}, "parent_id"},
				{"unknown parent", attic.ID, obj{"parent_id": "no-such-category"}, "parent_id"},
				{"null name", attic.ID, obj{"name": nil}, "name"},
				{"empty name", attic.ID, obj{"name": ""}, "name"},
				{"null slug", attic.ID, obj{"slug": nil}, "slug"},
				{"bad slug", attic.ID, obj{"slug": "a_b"}, "slug"},
				{"null position", attic.ID, obj{"position": nil}, "position"},
				{"position not an integer", attic.ID, obj{"position": 1.5}, "position"},
				{"unknown field", attic.ID, obj{"id": "x"}, "id"},
			} {
				t.Run(c.name, func(t *testing.T) {
					expectInvalid(t, e.forT(t).patchCategory(c.id, c.body), c.field)
				})
			}
			r := e.patchCategory(attic.ID, obj{"slug": "kitchen"})
			expect(t, r, http.StatusConflict, "slug_taken")
			r = e.patchCategory("no-such-category", obj{"name": "X"})
			expect(t, r, http.StatusNotFound, "not_found")
			if got := treeShape(e.treeOverHTTP()); got != before {
				t.Errorf("refused updates changed the tree from %s to %s", before, got)
			}
		})

		t.Run("delete", func(t *testing.T) {
			e := e.forT(t)
			del := func(path, id string) response {
				return e.do("DELETE", path+id, e.adminToken(), nil)
			}
			const categories = "/api/v1/categories/"
			expect(t, del(categories, garden.ID), http.StatusConflict, "category_not_empty") // children
			p := e.createProduct("CAT-1", 100, 0, plates.ID)
			expect(t, del(categories, plates.ID), http.StatusConflict, "category_not_empty") // a product
			expect(t, del("/api/v1/products/", p.ID), http.StatusNoContent, "")
			// An archived product still counts.
			expect(t, del(categories, plates.ID), http.StatusConflict, "category_not_empty")
			expect(t, e.patchProduct(p.ID, obj{"category_ids": []string{}}), http.StatusOK, "")
			expect(t, del(categories, plates.ID), http.StatusNoContent, "")
			expect(t, del(categories, plates.ID), http.StatusNotFound, "not_found")
			expect(t, del(categories, "no-such-category"), http.StatusNotFound, "not_found")
			expect(t, del(categories, latte.ID), http.StatusNoContent, "")
			const want = "garden[coffee-mugs[espresso]] attic cups kitchen"
			if got := treeShape(e.treeOverHTTP()); got != want {
				t.Errorf("tree %s\nwant %s", got, want)
			}
			// A deleted category cannot be named any more.
			r := e.patchProduct(p.ID, obj{"category_ids": []string{latte.ID}})
			expectInvalid(t, r, "category_ids")
			expectInvalid(t, e.patchCategory(attic.ID, obj{"parent_id": latte.ID}), "parent_id")
		})
	})
}

// TestCategoryFilterFollowsTheTree: listing by a category includes the
// products of its descendants, and follows moves and renames of the tree.
func TestCategoryFilterFollowsTheTree(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		home := e.newCategory("Home", "home", "", 0)
		kitchen := e.newCategory("Kitchen", "kitchen", home.ID, 0)
		mugs := e.newCategory("Mugs", "mugs", kitchen.ID, 0)
		garden := e.newCategory("Garden", "garden", "", 1)
		mug := e.createProduct("TREE-1", 900, 1, mugs.ID)
		rake := e.createProduct("TREE-2", 1900, 1, garden.ID)
		both := e.createProduct("TREE-3", 2900, 1, kitchen.ID, garden.ID)
		listed := func(t *testing.T, slug string, want ...string) {
			t.Helper()
			got := idsOf(e.forT(t).walkListing("", "sort=price&category="+slug, 20))
			if !slices.Equal(got, want) {
				t.Errorf("category=%s: %v, want %v", slug, got, want)
			}
		}
		change := func(id string, body map[string]any) {
			t.Helper()
			expect(t, e.patchCategory(id, body), http.StatusOK, "")
		}
		listed(t, "home", mug.ID, both.ID) // a grandchild's product under the root
		listed(t, "kitchen", mug.ID, both.ID)
		listed(t, "mugs", mug.ID)
		listed(t, "garden", rake.ID, both.ID)

		change(mugs.ID, map[string]any{"parent_id": garden.ID})
		listed(t, "home", both.ID)
		listed(t, "garden", mug.ID, rake.ID, both.ID)
		change(garden.ID, map[string]any{"slug": "yard"})
		listed(t, "garden")
		listed(t, "yard", mug.ID, rake.ID, both.ID)
		change(home.ID, map[string]any{"parent_id": garden.ID})
		listed(t, "yard", mug.ID, rake.ID, both.ID)
		listed(t, "home", both.ID)
	})
}

// TestCategoryPositionRange: a position from -1000000 to 1000000 is kept; one
// outside, even past what the database's integer holds, is a 422 naming
// position on either database, on creation and on change, and changes nothing.
func TestCategoryPositionRange(t *testing.T) {
	t.Parallel()
	type obj = map[string]any
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		low := e.newCategory("Low", "low", "", -1_000_000)
		high := e.newCategory("High", "high", "", 1_000_000)
		if low.Position != -1_000_000 || high.Position != 1_000_000 {
			t.Errorf("positions %d and %d, want -1000000 and 1000000", low.Position, high.Position)
		}
		const want = "low high"
		for _, pos := range []int64{1_000_001, -1_000_001, 1 << 31, -(1 << 31) - 1, 1 << 40} {
			t.Run(fmt.Sprint(pos), func(t *testing.T) {
				e := e.forT(t)
				expectInvalid(t, e.do("POST", "/api/v1/categories", e.adminToken(),
					obj{"name": "Out", "slug": "out", "position": pos}), "position")
				expectInvalid(t, e.patchCategory(low.ID, obj{"position": pos}), "position")
				if got := treeShape(e.treeOverHTTP()); got != want {
					t.Errorf("tree %s, want %s", got, want)
				}
			})
		}
	})
}
