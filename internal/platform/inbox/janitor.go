package inbox

import (
	"context"
	"time"

	"emporium/internal/platform/periodic"
	"emporium/internal/platform/sqldb"
)

// DefaultRetention is how long Janitor keeps a record unless told otherwise:
// 30 days, the longest MaxAge of Emporium's streams. A record must outlast
// every copy of its event that can still arrive: redeliveries (the consumer's
// whole retry schedule), a copy the outbox relay publishes again after the
// stream's duplicate window, and a replay of the stream by a consumer that was
// reset, which reaches back as far as the stream's MaxAge.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultJanitorInterval is how often Janitor cleans unless told otherwise.
const DefaultJanitorInterval = time.Hour

// Janitor returns a background loop that deletes the records of events
// processed more than retention ago (see Cleanup), once at start and then
// every interval, until ctx ends. Zero values take DefaultRetention and
// DefaultJanitorInterval. The loop returns nil when ctx ends and the error of
// a cleanup that fails, for its caller to restart it after a pause (as the
// app package does with its workers). Replicas sharing a database may each
// run one.
func Janitor(db *sqldb.DB, retention, interval time.Duration) func(ctx context.Context) error {
	retention, interval = janitorDefaults(retention, interval)
	return periodic.NowAndEvery(interval, func(ctx context.Context) error {
		_, err := Cleanup(ctx, db, retention)
		return err
	})
}

func janitorDefaults(retention, interval time.Duration) (time.Duration, time.Duration) {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if interval <= 0 {
		interval = DefaultJanitorInterval
	}
	return retention, interval
}
