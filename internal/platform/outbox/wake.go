package outbox

import (
	"strings"
	"sync"
)

// Relays in this process are woken when a transaction that added an event
// on one of their subjects commits, so that the event goes out at once, not
// at the relay's next poll. The poll stays, for events committed by other
// processes (another replica's, or a command's).
var sleepers struct {
	mu     sync.RWMutex
	relays map[*Relay]struct{}
}

// listen makes commits of events on r's subjects wake r; stop undoes it.
func (r *Relay) listen() (stop func()) {
	sleepers.mu.Lock()
	defer sleepers.mu.Unlock()
	if sleepers.relays == nil {
		sleepers.relays = map[*Relay]struct{}{}
	}
	sleepers.relays[r] = struct{}{}
	return func() {
		sleepers.mu.Lock()
		defer sleepers.mu.Unlock()
		delete(sleepers.relays, r)
	}
}

// wakeFor wakes the relays listening for subject. A relay already awake
// keeps one wake-up for after its round.
func wakeFor(subject string) {
	sleepers.mu.RLock()
	defer sleepers.mu.RUnlock()
	for r := range sleepers.relays {
		if r.wants(subject) {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}

// wants reports whether subject is one of r's (RelayConfig.Subjects).
func (r *Relay) wants(subject string) bool {
	if len(r.cfg.Subjects) == 0 {
		return true
	}
	for _, p := range r.cfg.Subjects {
		if subjectMatches(p, subject) {
			return true
		}
	}
	return false
}

// subjectMatches reports whether subject matches the NATS subject pattern:
// "*" stands for one token, a final ">" for one or more.
func subjectMatches(pattern, subject string) bool {
	for {
		p, prest, pmore := strings.Cut(pattern, ".")
		s, srest, smore := strings.Cut(subject, ".")
		switch {
		case p == ">" && !pmore:
			return s != ""
		case p != "*" && p != s:
			return false
		case !pmore || !smore:
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}
