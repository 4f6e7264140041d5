package outbox

import (
	"strings"

	"emporium/internal/platform/wakeup"
)

// commits wakes the relays in this process when a transaction that added an
// event on one of their subjects commits (Add), so that the event goes out at
// once, not at the relay's next poll. The poll stays, for events committed by
// other processes (another replica's, or a command's).
var commits wakeup.Topics

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
