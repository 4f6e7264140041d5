package testkit

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when told. Pass its Now where code takes
// a func() time.Time. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at 2026-03-01 12:00 UTC.
func NewClock() *Clock { return NewClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// NewClockAt returns a Clock at t, for code whose times meet the real clock's
// (tokens a real verifier checks, say): NewClockAt(time.Now().UTC()).
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
