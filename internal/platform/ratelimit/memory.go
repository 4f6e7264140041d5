package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryOptions configure a Memory. The zero value is usable.
type MemoryOptions struct {
	// Clock returns the current time; nil means time.Now. Tests inject a
	// clock they move by hand.
	Clock func() time.Time
}

// sweepEvery is how often (in the store's clock) a Memory drops the keys
// whose events have all left their window.
const sweepEvery = time.Minute

// Memory is a Store in the process: a sliding log of event times per key,
// pruned as it is used. Its memory stays bounded: a key keeps at most Max+1
// times (older ones change no answer), a key whose events have all left the
// window is dropped when next touched, and once a minute every such key is
// dropped. It is safe for concurrent use.
type Memory struct {
	now   func() time.Time
	start time.Time // times are kept as offsets from start, 8 bytes each

	mu      sync.Mutex
	logs    map[string]*eventLog
	sweptAt time.Duration
}

// eventLog is one key's recent events, oldest first.
type eventLog struct {
	at     []time.Duration
	window time.Duration // the latest call's window: when the key may be dropped
}

// NewMemory returns an empty Memory.
func NewMemory(opts MemoryOptions) *Memory {
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, start: now(), logs: make(map[string]*eventLog)}
}

// Hit records one event for key now and returns the state after it.
func (m *Memory) Hit(_ context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: hit: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	lg := m.logs[key]
	if lg == nil {
		lg = &eventLog{at: make([]time.Duration, 0, min(l.Max+1, 16))}
		m.logs[key] = lg
	}
	lg.prune(now, l.Window)
	lg.at = append(lg.at, now)
	if excess := len(lg.at) - (l.Max + 1); excess > 0 {
		lg.at = lg.at[:copy(lg.at, lg.at[excess:])]
	}
	return lg.result(now, l), nil
}

// Check returns the state of key without recording anything.
func (m *Memory) Check(_ context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: check: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	lg := m.logs[key]
	if lg == nil {
		return Result{}, nil
	}
	lg.prune(now, l.Window)
	if len(lg.at) == 0 {
		delete(m.logs, key)
		return Result{}, nil
	}
	return lg.result(now, l), nil
}

// Reset forgets key's events.
func (m *Memory) Reset(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.logs, key)
	return nil
}

// clock returns the current offset from start, sweeping first when due.
// m.mu must be held.
func (m *Memory) clock() time.Duration {
	now := m.now().Sub(m.start)
	if now-m.sweptAt >= sweepEvery {
		m.sweptAt = now
		for key, lg := range m.logs {
			if n := len(lg.at); n == 0 || lg.at[n-1] <= now-lg.window {
				delete(m.logs, key)
			}
		}
	}
	return now
}

// prune drops the events that have left the window ending at now: an event
// counts while it is less than window old.
func (lg *eventLog) prune(now, window time.Duration) {
	lg.window = window
	gone := 0
	for gone < len(lg.at) && lg.at[gone] <= now-window {
		gone++
	}
	if gone > 0 {
		lg.at = lg.at[:copy(lg.at, lg.at[gone:])]
	}
}

func (lg *eventLog) result(now time.Duration, l Limit) Result {
	n := len(lg.at)
	var nth time.Duration
	if n >= l.Max {
		nth = lg.at[n-l.Max] + l.Window - now
	}
	return newResult(n, l, nth)
}
