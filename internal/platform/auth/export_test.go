package auth

import "time"

// SetClock makes v read the time from now. Call it before v is used.
func SetClock(v *Verifier, now func() time.Time) { v.now = now }
