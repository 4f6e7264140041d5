// Package wakeup lets a commit in this process wake the workers that poll
// for what it wrote — the outbox relays for an event's subject, the effect
// runners for an effect's kind — so that the work starts at once instead of
// at the worker's next poll. The poll stays, for what other processes write.
package wakeup

import (
	"context"
	"sync"
	"time"
)

// Topics is a set of listeners, each waiting for the topics it wants. The
// zero value is ready to use.
type Topics struct {
	mu        sync.RWMutex
	listeners map[*listener]struct{}
}

type listener struct {
	wants func(topic string) bool
	wake  chan struct{}
}

// Listen registers a listener for the topics wants reports true for. wake
// holds one signal at most: a listener that is busy when woken finds it when
// it next waits. stop unregisters it.
func (t *Topics) Listen(wants func(topic string) bool) (wake <-chan struct{}, stop func()) {
	l := &listener{wants: wants, wake: make(chan struct{}, 1)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.listeners == nil {
		t.listeners = map[*listener]struct{}{}
	}
	t.listeners[l] = struct{}{}
	return l.wake, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.listeners, l)
	}
}

// Notify wakes the listeners that want topic.
func (t *Topics) Notify(topic string) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for l := range t.listeners {
		if l.wants(topic) {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Listening reports how many listeners are registered.
func (t *Topics) Listening() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.listeners)
}

// Sleep waits for d, or less when wake is signalled; it reports false when
// ctx ended first.
func Sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
