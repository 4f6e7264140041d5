package catalog

import (
	"sync"
	"time"
)

// categorySizeTTL is how long a counted category size chooses listings'
// access paths before it is counted again.
const categorySizeTTL = 10 * time.Second

// categorySizeEntries bounds the sizes kept (a slug that names no category
// counts too); when full, the map starts again empty.
const categorySizeEntries = 1024

// categorySizes remembers how many products each category's tree holds, as
// listWay counts them on SQLite (up to manyInCategory), for
// categorySizeTTL. The size only chooses how a listing reaches its products
// — never which products it answers — so a size a little old costs at most
// a slower path, while counting it for every listing cost a fifth to a
// third of a category listing at 100,000 products. A nil *categorySizes
// remembers nothing.
type categorySizes struct {
	now   func() time.Time
	mu    sync.Mutex
	sizes map[string]categorySize
}

type categorySize struct {
	n       int
	counted time.Time
}

func newCategorySizes(now func() time.Time) *categorySizes {
	return &categorySizes{now: now, sizes: make(map[string]categorySize)}
}

// get returns the size of slug's tree, if one was counted less than
// categorySizeTTL ago.
func (s *categorySizes) get(slug string) (int, bool) {
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sizes[slug]
	age := s.now().Sub(e.counted)
	return e.n, ok && age >= 0 && age < categorySizeTTL
}

// put keeps the size of slug's tree, counted now.
func (s *categorySizes) put(slug string, n int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sizes) >= categorySizeEntries {
		clear(s.sizes)
	}
	s.sizes[slug] = categorySize{n: n, counted: s.now()}
}
