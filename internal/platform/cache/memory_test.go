package cache

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Each op is "set k", "get k" or "del k", on a Memory of 3 entries.
	tests := []struct {
		name string
		ops  []string
		want []string // keys present afterwards, sorted
	}{
		{"under the bound", []string{"set a", "set b"}, []string{"a", "b"}},
		{"oldest goes", []string{"set a", "set b", "set c", "set d"},
			[]string{"b", "c", "d"}},
		{"a read keeps a key", []string{"set a", "set b", "set c", "get a", "set d"},
			[]string{"a", "c", "d"}},
		{"a write keeps a key", []string{"set a", "set b", "set c", "set a", "set d"},
			[]string{"a", "c", "d"}},
		{"a miss changes nothing", []string{"set a", "set b", "set c", "get x", "set d"},
			[]string{"b", "c", "d"}},
		{"a delete frees a place", []string{"set a", "set b", "set c", "del b", "set d"},
			[]string{"a", "c", "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := NewMemory(MemoryOptions{MaxEntries: 3})
			for _, op := range tt.ops {
				verb, key, _ := strings.Cut(op, " ")
				switch verb {
				case "set":
					m.Set(ctx, key, []byte(key), time.Minute)
				case "get":
					m.Get(ctx, key)
				case "del":
					m.Delete(ctx, key)
				}
			}
			if got := memoryKeys(m); !slices.Equal(got, tt.want) {
				t.Errorf("keys = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMemoryDefaultBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemory(MemoryOptions{})
	for i := range defaultMaxEntries + 10 {
		m.Set(ctx, strconv.Itoa(i), nil, time.Minute)
	}
	if got := len(memoryKeys(m)); got != defaultMaxEntries {
		t.Errorf("%d entries, want the default bound %d", got, defaultMaxEntries)
	}
	if _, found := m.Get(ctx, "0"); found {
		t.Error("the oldest entry was not evicted")
	}
}

func TestMemoryStaysBoundedUnderConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const maxEntries = 10
	m := NewMemory(MemoryOptions{MaxEntries: maxEntries})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 0))
			for range 2000 {
				key := strconv.Itoa(r.IntN(50))
				switch r.IntN(5) {
				case 0, 1:
					m.Set(ctx, key, []byte(key), time.Duration(r.IntN(3))*time.Minute)
				case 2:
					if v, found := m.Get(ctx, key); found && string(v) != key {
						t.Errorf("Get(%q) = %q", key, v)
					}
				case 3:
					m.Delete(ctx, key, strconv.Itoa(r.IntN(50)))
				case 4:
					m.Bump(ctx, "ns")
				}
			}
		})
	}
	wg.Wait()
	m.mu.Lock()
	items, listed := len(m.items), m.lru.Len()
	m.mu.Unlock()
	if items > maxEntries || items != listed {
		t.Errorf("%d entries in the map and %d in the list, want the same number <= %d",
			items, listed, maxEntries)
	}
}

// memoryKeys returns m's keys, sorted.
func memoryKeys(m *Memory) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
