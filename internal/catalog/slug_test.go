package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"golang.org/x/text/unicode/norm"

	"emporium/internal/platform/errs"
)

// slugNames are names and the slugs derived from them.
var slugNames = []struct{ name, want string }{
	{"Cast Iron Skillet 10\"", "cast-iron-skillet-10"},
	{"Crème brûlée Torch", "creme-brulee-torch"},
	{"  --Hello,   World!--  ", "hello-world"},
	{"Phở Bò", "pho-bo"},
	{"İstanbul Çay", "istanbul-cay"},
	{"ﬁne Ｔea ①", "fine-tea-1"}, // compatibility forms (NFKD): a ligature, full width, a circled digit
	{"Straße", "straße"},        // a Latin letter with no accent to drop stays
	{"Łódź", "łodz"},
	{"日本語", "日本語"},
	{"Чай зелёный", "чай-зелёный"}, // marks stay on other scripts' letters: й is not и
	{"Ελληνικός Καφές", "ελληνικός-καφές"},
	{"हिन्दी चाय", "हिन्दी-चाय"}, // vowel signs are marks
	{"ｶﾞﾗｽ", "ガラス"},              // half-width katakana and its voiced mark
	{"Café Москва 2", "cafe-москва-2"},
	{"!!!", "product"},
	{"", "product"},
}

func TestSlugify(t *testing.T) {
	for _, tt := range slugNames {
		if got := Slugify(tt.name); got != tt.want {
			t.Errorf("Slugify(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	long := Slugify(strings.Repeat("я", 120))
	if got := utf8.RuneCountInString(long); got != 90 || long != strings.Repeat("я", 90) {
		t.Errorf("a 120-letter name gives %d characters: %q", got, long)
	}
}

// FuzzSlugify: whatever the name, the derived slug is one a client could send.
func FuzzSlugify(f *testing.F) {
	for _, tt := range slugNames {
		f.Add(tt.name)
	}
	f.Add(strings.Repeat("é-", 60))
	f.Add("a\u0301\u0302-\u0301b")
	f.Add("ϒ Ǆ ǅ ᾈ")
	f.Fuzz(func(t *testing.T, name string) {
		slug := Slugify(name)
		var v errs.Validation
		checkSlug(&v, "slug", slug)
		if err := v.Err(); err != nil || utf8.RuneCountInString(slug) > 90 {
			t.Errorf("Slugify(%q) = %q: %v", name, slug, err)
		}
	})
}

func TestCheckSlug(t *testing.T) {
	for _, c := range []struct {
		slug string
		ok   bool
	}{
		{"blue-mug", true},
		{"a1-2b", true},
		{"чай-зелёный", true},
		{"日本語-2", true},
		{"हिन्दी", true},
		{"straße", true},
		{strings.Repeat("я", 100), true},
		{strings.Repeat("я", 101), false},
		{"", false},
		{"Blue-Mug", false},
		{"Чай", false},
		{"зеле\u0308ный", false}, // decomposed: not NFC
		{"\u0301a", false},       // a mark with no letter
		{"a-\u0301b", false},
		{"blue--mug", false},
		{"-blue", false},
		{"blue-", false},
		{"blue_mug", false},
		{"blue mug", false},
		{"50%", false},
	} {
		var v errs.Validation
		checkSlug(&v, "slug", c.slug)
		if ok := v.Err() == nil; ok != c.ok {
			t.Errorf("checkSlug(%q): valid %v, want %v", c.slug, ok, c.ok)
		}
	}
}

// with is a productBody edit that sets field k to v.
func with(k string, v any) func(map[string]any) {
	return func(b map[string]any) { b[k] = v }
}

// TestSlugPatternDocumented: the OpenAPI document's Slug pattern is the one
// checkSlug uses.
func TestSlugPatternDocumented(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Components.Schemas["Slug"].Value.Pattern; got != slugPattern.String() {
		t.Errorf("the document's Slug pattern is %s, checkSlug's %s", got, slugPattern)
	}
}

// countingQuerier counts the queries it passes on.
type countingQuerier struct {
	querier
	n int
}

func (q *countingQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q.n++
	return q.querier.QueryContext(ctx, query, args...)
}

// TestFreeSlug: the first free suffix, whatever the slugs around it, found
// in one query however many suffixes are taken.
func TestFreeSlug(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		taken := []string{"lamp", "lamp-03", "lamp-x", "lamp-2-2", "lampshade", "lamp-0"}
		for i := 2; i <= 40; i++ {
			taken = append(taken, fmt.Sprintf("lamp-%d", i))
		}
		taken = append(taken, "чай", "чай-2")
		for i, slug := range taken {
			e.newProduct(productBody(fmt.Sprint("FREE-", i), 100, with("slug", slug)))
		}
		for _, c := range []struct{ base, want string }{
			{"lamp", "lamp-41"},
			{"lamp-2", "lamp-2-3"},
			{"lampshade", "lampshade-2"},
			{"lamp-x", "lamp-x-2"},
			{"desk", "desk"},
			{"чай", "чай-3"},
		} {
			q := &countingQuerier{querier: e.svc.db}
			got, err := freeSlug(context.Background(), q, c.base)
			if err != nil || got != c.want {
				t.Errorf("freeSlug(%q) = %q, %v; want %q", c.base, got, err, c.want)
			}
			if q.n != 1 {
				t.Errorf("freeSlug(%q) ran %d queries, want 1", c.base, q.n)
			}
		}
		p := e.newProduct(productBody("FREE-LAMP", 100, with("name", "Lamp")))
		if p.Slug != "lamp-41" {
			t.Errorf("a product named Lamp got %q, want lamp-41", p.Slug)
		}
	})
}

// TestUnicodeSlugs: names in other scripts keep their letters in the derived
// slug; clients may send such slugs too, and the category filter finds them.
func TestUnicodeSlugs(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		tea := e.newCategory("Чай", "чай", "", 0)
		for _, c := range []struct{ sku, name, want string }{
			{"U1", "Чай зелёный", "чай-зелёный"},
			{"U2", "Чай  ЗЕЛЁНЫЙ!", "чай-зелёный-2"},
			{"U3", "日本茶", "日本茶"},
			{"U4", "緑茶", "緑茶"},
		} {
			p := e.newProduct(productBody(c.sku, 100, with("name", c.name), with("category_ids", []string{tea.ID})))
			if p.Slug != c.want {
				t.Errorf("name %q: slug %q, want %q", c.name, p.Slug, c.want)
			}
		}
		p := e.newProduct(productBody("U5", 100, with("slug", "зелёный-чай")))
		if p.Slug != "зелёный-чай" {
			t.Errorf("slug %q, want зелёный-чай", p.Slug)
		}
		decomposed := norm.NFD.String("зелёный")
		for _, slug := range []string{"Зелёный", decomposed, "зелёный чай"} {
			expectInvalid(t, e.do("POST", "/api/v1/products", e.adminToken(),
				productBody("U6", 100, with("slug", slug))), "slug")
			expectInvalid(t, e.patchProduct(p.ID, map[string]any{"slug": slug}), "slug")
		}
		if got := e.walkListing("", "category="+url.QueryEscape("чай"), 10); len(got) != 4 {
			t.Errorf("the category чай lists %d products, want 4", len(got))
		}
	})
}

// TestDerivedSlugsUnderConcurrency: products created at once with one name
// all get a slug, each its own, never a conflict.
func TestDerivedSlugsUnderConcurrency(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := start(t, dbURL, nil)
		const n = 12
		slugs := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := e.do("POST", "/api/v1/products", e.adminToken(), map[string]any{
					"sku": fmt.Sprintf("TWIN-%d", i), "name": "Twin Lamp",
					"price": map[string]any{"amount": 100, "currency": "USD"}})
				if r.status != http.StatusCreated {
					t.Errorf("create %d: %d %s", i, r.status, r.body)
					return
				}
				var p Product
				r.json(t, &p)
				slugs[i] = p.Slug
			})
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, s := range slugs {
			if s == "" || seen[s] || !strings.HasPrefix(s, "twin-lamp") {
				t.Errorf("slugs %q: want %d distinct twin-lamp slugs", slugs, n)
				break
			}
			seen[s] = true
		}
	})
}
