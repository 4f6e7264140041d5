package cart

import (
	"sync"
	"time"
)

// summaryMaxAge is how long the cart uses what the catalog said of a
// product, counted from when it asked: a cart read shows prices and
// availability at most this much older than the catalog's cached read
// (see catalog.products), which the OpenAPI document states.
const summaryMaxAge = time.Second

// summaryEntries bounds the summaries the cart keeps: a few MiB at most.
const summaryEntries = 10_000

// summaries keeps the catalog's recent answers about products by id, so
// that a cart read whose products were all looked up less than
// summaryMaxAge ago asks the catalog nothing. It is safe for concurrent
// use. Only what is shown to the customer is answered from it: an add asks
// the catalog's database, and checkout never reads the cart's prices.
type summaries struct {
	mu      sync.RWMutex
	entries map[string]summary
	max     int
}

// summary is what the catalog said of one id when it was asked: known is
// false for an id it does not know. A dropped summary (see drop) only
// remembers when it was dropped.
type summary struct {
	p       product
	known   bool
	dropped bool
	asked   time.Time
}

func newSummaries(max int) *summaries {
	return &summaries{entries: make(map[string]summary), max: max}
}

// fresh reports whether s may still be used at now.
func (s summary) fresh(now time.Time) bool {
	age := now.Sub(s.asked)
	return !s.dropped && age >= 0 && age < summaryMaxAge
}

// get sets got[i] to the summary of ids[i] when a fresh one is kept, and
// returns the positions of the ids it has none for.
func (c *summaries) get(ids []string, now time.Time, got []summary) (missing []int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, id := range ids {
		s, ok := c.entries[id]
		if !ok || !s.fresh(now) {
			missing = append(missing, i)
			continue
		}
		got[i] = s
	}
	return missing
}

// put keeps what the catalog said, when asked at asked, of each of ids:
// found holds those it knows. An answer older than what is kept, or than a
// drop, is not kept: it may predate the change that caused the drop.
func (c *summaries) put(ids []string, found map[string]product, asked time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		old, ok := c.entries[id]
		if ok && old.asked.After(asked) {
			continue
		}
		if !ok && len(c.entries) >= c.max {
			c.makeRoom(asked)
		}
		p, known := found[id]
		c.entries[id] = summary{p: p, known: known, asked: asked}
	}
}

// drop forgets what was said of id, at now: the catalog announced a change.
func (c *summaries) drop(id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.max {
		c.makeRoom(now)
	}
	c.entries[id] = summary{dropped: true, asked: now}
}

// makeRoom deletes the entries too old to use or to guard against a late
// answer, and every entry when none is that old: a full cache of fresh
// entries starts over rather than scanning on every put.
func (c *summaries) makeRoom(now time.Time) {
	for id, s := range c.entries {
		if now.Sub(s.asked) >= summaryMaxAge {
			delete(c.entries, id)
		}
	}
	if len(c.entries) >= c.max {
		clear(c.entries)
	}
}
