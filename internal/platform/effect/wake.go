package effect

import "emporium/internal/platform/wakeup"

// commits wakes the runners in this process when a transaction that recorded
// an effect of one of their kinds commits (Record), so that it is performed
// at once, not at the runner's next poll. The poll stays, for effects
// recorded by other processes (another replica's) and for retries falling
// due.
var commits wakeup.Topics
