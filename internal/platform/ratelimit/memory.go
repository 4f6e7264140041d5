package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
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

// memoryShards spreads the keys over locks, so that concurrent calls for
// different keys rarely wait for each other, and a sweep holds one shard at
// a time.
const memoryShards = 32

// Memory is a Store in the process: a sliding log of events per key, pruned
// as it is used. Its memory stays bounded: a key keeps at most Max+1 events
// (older ones change no answer), a key whose events have all left the window
// is dropped when next touched, and once a minute every such key is dropped,
// shard by shard. It is safe for concurrent use.
type Memory struct {
	now   func() time.Time
	start time.Time // times are kept as offsets from start
	seed  maphash.Seed

	sweptAt atomic.Int64  // offset of the last sweep
	lastID  atomic.Uint64 // events are numbered in the order they are recorded
	shards  [memoryShards]memoryShard
}

// memoryShard holds the keys that hash to it.
type memoryShard struct {
	mu   sync.Mutex
	logs map[string]*eventLog
	_    [48]byte // a cache line of its own, so shards do not slow each other down
}

// eventLog is one key's recent events, oldest first.
type eventLog struct {
	events []event
	window time.Duration // the latest call's window: when the key may be dropped
}

// event is one recorded event, 16 bytes.
type event struct {
	at time.Duration
	id uint64
}

// NewMemory returns an empty Memory.
func NewMemory(opts MemoryOptions) *Memory {
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	m := &Memory{now: now, start: now(), seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].logs = make(map[string]*eventLog)
	}
	return m
}

// lock returns key's shard, locked, and the current time; it sweeps every
// shard first when a sweep is due.
func (m *Memory) lock(key string) (*memoryShard, time.Duration) {
	now := m.clock()
	s := &m.shards[maphash.String(m.seed, key)%memoryShards]
	s.mu.Lock()
	return s, now
}

// Hit records one event for key now and returns the state after it.
func (m *Memory) Hit(_ context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: hit: %w", err)
	}
	s, now := m.lock(key)
	defer s.mu.Unlock()
	return m.record(s, key, s.pruned(key, now, l.Window), now, l), nil
}

// Admit records one event for key now unless key already holds Max events in
// the window. Its Result counts the attempt either way: Count > Max means it
// was refused and nothing was recorded.
func (m *Memory) Admit(_ context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: admit: %w", err)
	}
	s, now := m.lock(key)
	defer s.mu.Unlock()
	lg := s.pruned(key, now, l.Window)
	if lg != nil && len(lg.events) >= l.Max {
		res := lg.result(now, l)
		res.Count = l.Max + 1
		return res, nil
	}
	return m.record(s, key, lg, now, l), nil
}

// Check returns the state of key without recording anything.
func (m *Memory) Check(_ context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: check: %w", err)
	}
	s, now := m.lock(key)
	defer s.mu.Unlock()
	lg := s.pruned(key, now, l.Window)
	if lg == nil {
		return Result{}, nil
	}
	return lg.result(now, l), nil
}

// Forget removes the event id from key's events; an event no longer kept is
// ignored.
func (m *Memory) Forget(_ context.Context, key, id string) error {
	n, err := strconv.ParseUint(id, 36, 64)
	if err != nil {
		return nil // empty, or not an id this store gave: nothing of it is kept
	}
	s, _ := m.lock(key)
	defer s.mu.Unlock()
	lg := s.logs[key]
	if lg == nil {
		return nil
	}
	for i, e := range lg.events {
		if e.id == n {
			lg.events = append(lg.events[:i], lg.events[i+1:]...)
			break
		}
	}
	if len(lg.events) == 0 {
		delete(s.logs, key)
	}
	return nil
}

// Reset forgets key's events.
func (m *Memory) Reset(_ context.Context, key string) error {
	s, _ := m.lock(key)
	defer s.mu.Unlock()
	delete(s.logs, key)
	return nil
}

// clock returns the current offset from start. When a sweep is due, the one
// call that claims it drops the expired keys of every shard, holding one
// shard's lock at a time.
func (m *Memory) clock() time.Duration {
	now := m.now().Sub(m.start)
	swept := m.sweptAt.Load()
	if now-time.Duration(swept) < sweepEvery || !m.sweptAt.CompareAndSwap(swept, int64(now)) {
		return now
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for key, lg := range s.logs {
			if n := len(lg.events); n == 0 || lg.events[n-1].at <= now-lg.window {
				delete(s.logs, key)
			}
		}
		s.mu.Unlock()
	}
	return now
}

// pruned returns key's log with the events that left the window dropped, or
// nil (dropping the key) when none is left. s.mu must be held.
func (s *memoryShard) pruned(key string, now, window time.Duration) *eventLog {
	lg := s.logs[key]
	if lg == nil {
		return nil
	}
	lg.prune(now, window)
	if len(lg.events) == 0 {
		delete(s.logs, key)
		return nil
	}
	return lg
}

// record appends an event to key's log lg (nil for a new key) in shard s,
// keeping the newest Max+1, and returns the state after it. s.mu must be
// held.
func (m *Memory) record(s *memoryShard, key string, lg *eventLog, now time.Duration, l Limit) Result {
	if lg == nil {
		lg = &eventLog{events: make([]event, 0, min(l.Max+1, 16)), window: l.Window}
		s.logs[key] = lg
	}
	id := m.lastID.Add(1)
	lg.events = append(lg.events, event{at: now, id: id})
	if excess := len(lg.events) - (l.Max + 1); excess > 0 {
		lg.events = lg.events[:copy(lg.events, lg.events[excess:])]
	}
	res := lg.result(now, l)
	res.ID = strconv.FormatUint(id, 36)
	return res
}

// prune drops the events that have left the window ending at now: an event
// counts while it is less than window old.
func (lg *eventLog) prune(now, window time.Duration) {
	lg.window = window
	gone := 0
	for gone < len(lg.events) && lg.events[gone].at <= now-window {
		gone++
	}
	if gone > 0 {
		lg.events = lg.events[:copy(lg.events, lg.events[gone:])]
	}
}

func (lg *eventLog) result(now time.Duration, l Limit) Result {
	n := len(lg.events)
	var nth time.Duration
	if n >= l.Max {
		nth = lg.events[n-l.Max].at + l.Window - now
	}
	return newResult(n, l, nth)
}
