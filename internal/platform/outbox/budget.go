package outbox

import "time"

// budget is how long one round may spend publishing, so that what it
// published is marked before its transaction ends. Without it a batch slower
// to publish than the transaction may last would roll back its marks every
// round and go out again, forever.
type budget struct {
	stopAt         time.Time     // no publish starts that could end past this
	publishTimeout time.Duration // bound on each publish in this round
}

// newBudget returns the budget of a round that started at start and may last
// roundTimeout, or less when a limit is shorter (zero limits are none). A
// tenth of it is kept for marking and committing. Each publish is bounded by
// publishTimeout and by a quarter of the round, so that a round always has
// room for several publishes.
func newBudget(start time.Time, roundTimeout, publishTimeout time.Duration,
	limits ...time.Duration) budget {
	d := roundTimeout
	for _, l := range limits {
		if l > 0 {
			d = min(d, l)
		}
	}
	return budget{
		stopAt:         start.Add(d - d/10),
		publishTimeout: max(min(publishTimeout, d/4), time.Millisecond),
	}
}
