package catalog

import (
	"strconv"
	"testing"
	"time"
)

// A size chooses paths for categorySizeTTL after it was counted, and not
// before it was counted (a clock gone back); the map starts again when full;
// a nil *categorySizes remembers nothing.
func TestCategorySizes(t *testing.T) {
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	s := newCategorySizes(func() time.Time { return now })
	if _, ok := s.get("kitchen"); ok {
		t.Fatal("a size never counted")
	}
	s.put("kitchen", 1200)
	now = now.Add(categorySizeTTL - time.Millisecond)
	if n, ok := s.get("kitchen"); !ok || n != 1200 {
		t.Fatalf("get = %d, %v just before the TTL; want 1200, true", n, ok)
	}
	now = now.Add(time.Millisecond)
	if _, ok := s.get("kitchen"); ok {
		t.Fatal("a size as old as the TTL is still used")
	}
	s.put("kitchen", 1300)
	now = now.Add(-time.Second)
	if _, ok := s.get("kitchen"); ok {
		t.Fatal("a size counted in the future (the clock went back) is used")
	}
	for i := range categorySizeEntries {
		s.put("c"+strconv.Itoa(i), i)
	}
	if len(s.sizes) > categorySizeEntries {
		t.Fatalf("%d sizes kept; at most %d", len(s.sizes), categorySizeEntries)
	}
	var none *categorySizes
	none.put("kitchen", 1)
	if _, ok := none.get("kitchen"); ok {
		t.Fatal("a nil *categorySizes remembered a size")
	}
}
