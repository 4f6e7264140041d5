package effect

import "sync"

// Runners in this process are woken when a transaction that recorded an
// effect of one of their kinds commits, so that it is performed at once, not
// at the runner's next poll. The poll stays, for effects recorded by other
// processes (another replica's) and for retries falling due.
var sleepers struct {
	mu      sync.RWMutex
	runners map[*Runner]struct{}
}

// listen makes commits of effects of r's kinds wake r; stop undoes it.
func (r *Runner) listen() (stop func()) {
	sleepers.mu.Lock()
	defer sleepers.mu.Unlock()
	if sleepers.runners == nil {
		sleepers.runners = map[*Runner]struct{}{}
	}
	sleepers.runners[r] = struct{}{}
	return func() {
		sleepers.mu.Lock()
		defer sleepers.mu.Unlock()
		delete(sleepers.runners, r)
	}
}

// wakeFor wakes the runners of kind. A runner already awake keeps one
// wake-up for after its round.
func wakeFor(kind string) {
	sleepers.mu.RLock()
	defer sleepers.mu.RUnlock()
	for r := range sleepers.runners {
		if _, ok := r.cfg.Handlers[kind]; ok {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}
