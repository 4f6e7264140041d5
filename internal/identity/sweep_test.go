package identity

import (
	"context"
	"testing"
	"time"
)

// TestSweepKeepsSessionsForADay: a session is deleted a day after its
// absolute end, whatever the time zone of the service's clock (stored times
// are UTC; SQLite compares them as text).
func TestSweepKeepsSessionsForADay(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		clock := newClock()
		east := time.FixedZone("UTC+10", 10*60*60)
		e := start(t, dbURL, func(c *Config) {
			c.now = func() time.Time { return clock.Now().In(east) }
			c.RefreshIdleTTL, c.RefreshTTL = time.Hour, 3*time.Hour
		})
		e.register("swe@example.com", goodPassword)
		ctx := context.Background()
		families := func() int {
			t.Helper()
			var n int
			err := e.svc.db.QueryRowContext(ctx, "SELECT count(*) FROM refresh_families").Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		tests := []struct {
			advance time.Duration
			want    int
		}{
			{3*time.Hour + 20*time.Hour, 1}, // ended 20 hours ago
			{5 * time.Hour, 0},              // ended 25 hours ago
		}
		for _, tt := range tests {
			clock.Advance(tt.advance)
			if err := e.svc.sweepExpiredSessions(ctx); err != nil {
				t.Fatal(err)
			}
			if got := families(); got != tt.want {
				t.Errorf("after %s more: %d sessions, want %d", tt.advance, got, tt.want)
			}
		}
	})
}
