package identity

import (
	"time"

	"emporium/internal/platform/testkit"
)

// newClock is a settable clock that starts at the real time, so tokens it
// stamps pass a verifier that uses the real clock.
func newClock() *testkit.Clock { return testkit.NewClockAt(time.Now().UTC()) }
