package cart

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustGet(c *summaries, ids []string, now time.Time) ([]summary, []int) {
	got := make([]summary, len(ids))
	missing := c.get(ids, now, got)
	return got, missing
}

// A summary is used for summaryMaxAge after the catalog was asked, and not
// from then on; an id the catalog did not know is kept as unknown.
func TestSummariesExpire(t *testing.T) {
	c := newSummaries(10)
	c.put([]string{"a", "gone"}, map[string]product{"a": {ID: "a", Price: Money{Amount: 5}}}, t0)
	tests := []struct {
		at          time.Duration
		wantMissing []int
	}{
		{0, nil},
		{summaryMaxAge - time.Nanosecond, nil},
		{summaryMaxAge, []int{0, 1}},
		{-time.Millisecond, []int{0, 1}}, // a clock that went back: not trusted
	}
	for _, tt := range tests {
		got, missing := mustGet(c, []string{"a", "gone"}, t0.Add(tt.at))
		if !slices.Equal(missing, tt.wantMissing) {
			t.Errorf("at %v: missing %v, want %v", tt.at, missing, tt.wantMissing)
		}
		if tt.wantMissing == nil && (!got[0].known || got[0].p.Price.Amount != 5 || got[1].known) {
			t.Errorf("at %v: got %+v, want a known and gone unknown", tt.at, got)
		}
	}
}

// An answer asked before the one kept, or before a drop, is not kept: it
// may predate the change.
func TestSummariesKeepTheNewest(t *testing.T) {
	c := newSummaries(10)
	c.put([]string{"a"}, map[string]product{"a": {ID: "a", Name: "new"}}, t0.Add(10*time.Millisecond))
	c.put([]string{"a"}, map[string]product{"a": {ID: "a", Name: "old"}}, t0)
	if got, _ := mustGet(c, []string{"a"}, t0.Add(20*time.Millisecond)); got[0].p.Name != "new" {
		t.Errorf("kept %q, want the newer answer", got[0].p.Name)
	}

	c.drop("a", t0.Add(30*time.Millisecond))
	if _, missing := mustGet(c, []string{"a"}, t0.Add(40*time.Millisecond)); len(missing) != 1 {
		t.Error("a dropped summary is still used")
	}
	c.put([]string{"a"}, map[string]product{"a": {ID: "a", Name: "late"}}, t0.Add(25*time.Millisecond))
	if _, missing := mustGet(c, []string{"a"}, t0.Add(40*time.Millisecond)); len(missing) != 1 {
		t.Error("an answer asked before the drop was kept")
	}
	c.put([]string{"a"}, map[string]product{"a": {ID: "a", Name: "after"}}, t0.Add(35*time.Millisecond))
	if got, missing := mustGet(c, []string{"a"}, t0.Add(40*time.Millisecond)); len(missing) != 0 ||
		got[0].p.Name != "after" {
		t.Errorf("an answer asked after the drop: missing %v, got %+v", missing, got)
	}
}

// The cache never holds more than its bound: entries too old go first,
// and a cache full of fresh ones starts over.
func TestSummariesBound(t *testing.T) {
	c := newSummaries(4)
	put := func(id string, at time.Time) { c.put([]string{id}, map[string]product{id: {ID: id}}, at) }
	for i := range 3 {
		put(fmt.Sprint("old", i), t0)
	}
	put("new", t0.Add(summaryMaxAge/2))
	put("newer", t0.Add(summaryMaxAge))
	if n := len(c.entries); n != 2 {
		t.Errorf("%d entries, want 2: the three too old went, to make room", n)
	}
	for i := range 10 {
		put(fmt.Sprint("more", i), t0.Add(summaryMaxAge+time.Millisecond))
		c.drop(fmt.Sprint("dropped", i), t0.Add(summaryMaxAge+time.Millisecond))
		if n := len(c.entries); n > 4 {
			t.Fatalf("%d entries, bound 4", n)
		}
	}
	if s, ok := c.entries["dropped9"]; !ok || !s.dropped {
		t.Error("the last drop was lost: a late answer could be kept")
	}
}

// BenchmarkSummariesGet looks up the 10 products of a cart, all kept, from
// every CPU at once.
func BenchmarkSummariesGet(b *testing.B) {
	c := newSummaries(summaryEntries)
	ids := make([]string, 10)
	found := map[string]product{}
	for i := range ids {
		ids[i] = fmt.Sprintf("01a251eb-74d3-725a-9881-e99d5737fb%02d", i)
		found[ids[i]] = product{ID: ids[i], SKU: "SKU", Name: "Name", Status: "active"}
	}
	c.put(ids, found, t0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		got := make([]summary, len(ids))
		for pb.Next() {
			if missing := c.get(ids, t0, got); missing != nil {
				b.Fatal("missing", missing)
			}
		}
	})
}
