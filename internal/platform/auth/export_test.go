package auth

import "time"

// SetClock makes v read the time from now. Call it before v is used.
func SetClock(v *Verifier, now func() time.Time) { v.now = now }

// CachedTokens returns how many verified tokens v remembers.
func CachedTokens(v *Verifier) int {
	if v.tokens == nil {
		return 0
	}
	return v.tokens.len()
}
