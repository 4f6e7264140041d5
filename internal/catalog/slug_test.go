package catalog

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestSlugify(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Cast Iron Skillet 10\"", "cast-iron-skillet-10"},
		{"Crème brûlée Torch", "creme-brulee-torch"},
		{"  --Hello,   World!--  ", "hello-world"},
		{"日本語", "product"},
		{"Straße", "stra-e"},
	}
	for _, tt := range tests {
		if got := Slugify(tt.name); got != tt.want {
			t.Errorf("Slugify(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
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
