package cache

import (
	"bytes"
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MemoryOptions configure a Memory. The zero value is usable: 10,000 entries,
// metrics on a private registry.
type MemoryOptions struct {
	// Name labels the store's metrics (the cache label), e.g. "catalog";
	// default "default".
	Name string
	// MaxEntries bounds the number of entries; past it the least recently
	// used one is evicted. Default 10,000.
	MaxEntries int
	// Registerer receives the metrics; nil means a private registry.
	Registerer prometheus.Registerer
	// Clock returns the current time; nil means time.Now. Tests inject a
	// clock they move by hand.
	Clock func() time.Time
}

// defaultMaxEntries is MemoryOptions.MaxEntries' default.
const defaultMaxEntries = 10_000

// Memory is a Store in the process: a least-recently-used list of at most
// MaxEntries entries, each with its own expiry. An expired entry is dropped
// when next read, or evicted like any other once it is the least recently
// used. Generations are plain counters, one per namespace, never evicted:
// namespaces are few and fixed by the code. It is safe for concurrent use.
type Memory struct {
	now     func() time.Time
	max     int
	metrics metrics

	mu    sync.Mutex
	items map[string]*list.Element // of *entry
	lru   *list.List               // most recently used first
	gens  map[string]uint64
}

// entry is one cached value. Its value is never modified once stored.
type entry struct {
	key     string
	value   []byte
	expires time.Time
}

// NewMemory returns an empty Memory.
func NewMemory(opts MemoryOptions) *Memory {
	m := &Memory{
		now:     opts.Clock,
		max:     opts.MaxEntries,
		metrics: newMetrics(opts.Registerer, opts.Name, "memory"),
		items:   make(map[string]*list.Element),
		lru:     list.New(),
		gens:    make(map[string]uint64),
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.max <= 0 {
		m.max = defaultMaxEntries
	}
	return m
}

// Get returns a copy of the value stored under key, or false when there is
// none or it has expired.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool) {
	v, ok := m.lookup(key)
	if ok {
		m.metrics.hit.Inc()
	} else {
		m.metrics.miss.Inc()
	}
	return v, ok
}

// lookup is Get without the metrics.
func (m *Memory) lookup(key string) ([]byte, bool) {
	m.mu.Lock()
	el, ok := m.items[key]
	if !ok {
		m.mu.Unlock()
		return nil, false
	}
	e := el.Value.(*entry)
	if !m.now().Before(e.expires) {
		m.remove(el)
		m.mu.Unlock()
		return nil, false
	}
	m.lru.MoveToFront(el)
	v := e.value
	m.mu.Unlock()
	// Values are never modified in place, so the copy needs no lock.
	return bytes.Clone(v), true
}

// Set stores a copy of value under key for ttl, evicting the least recently
// used entry when the store is full. A ttl <= 0 stores nothing.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	value = bytes.Clone(value)
	m.mu.Lock()
	defer m.mu.Unlock()
	expires := m.now().Add(ttl)
	if el, ok := m.items[key]; ok {
		// A fresh entry rather than an update: a reader may be copying the
		// old value outside the lock.
		el.Value = &entry{key: key, value: value, expires: expires}
		m.lru.MoveToFront(el)
		return
	}
	m.items[key] = m.lru.PushFront(&entry{key: key, value: value, expires: expires})
	for m.lru.Len() > m.max {
		m.remove(m.lru.Back())
	}
}

// Delete removes keys.
func (m *Memory) Delete(_ context.Context, keys ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, key := range keys {
		if el, ok := m.items[key]; ok {
			m.remove(el)
		}
	}
}

// Generation returns namespace's current generation, 0 until its first Bump.
func (m *Memory) Generation(_ context.Context, namespace string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gens[namespace]
}

// Bump increments namespace's generation.
func (m *Memory) Bump(_ context.Context, namespace string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gens[namespace]++
}

// remove drops el. m.mu must be held.
func (m *Memory) remove(el *list.Element) {
	m.lru.Remove(el)
	delete(m.items, el.Value.(*entry).key)
}
