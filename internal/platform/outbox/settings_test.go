package outbox

import (
	"testing"
	"time"

	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
)

// A relay on PostgreSQL reads the session's limits from pg_settings once,
// not at every round; its rounds still publish.
func TestRelayReadsSessionLimitsOnce(t *testing.T) {
	t.Parallel()
	sqldbtest.NeedPostgres(t)
	db, err := sqldb.Open(ctxT(t), sqldbtest.PostgresDatabase(t, schemas...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := bustest.EmbeddedBus(t)
	s := bustest.NewStream(t, b, bus.StreamConfig{})
	r := NewRelay(db, b, RelayConfig{Logger: bustest.Logger(t)})
	for range 3 {
		commit(t, db, s.Subject("order", "placed"), 2)
		if _, _, err := r.round(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if backlog(t, db) != 0 {
		t.Errorf("%d events left after the rounds", backlog(t, db))
	}
	if r.settingsReads != 1 {
		t.Errorf("pg_settings read %d times in 3 rounds, want 1", r.settingsReads)
	}
	r.settings.readAt = time.Now().Add(-settingsMaxAge) // too old now
	if _, _, err := r.round(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if r.settingsReads != 2 {
		t.Errorf("pg_settings read %d times after they aged, want 2", r.settingsReads)
	}
}

func TestBound(t *testing.T) {
	tests := []struct{ session, round, want int64 }{
		{0, 60000, 60000}, {1000, 60000, 1000}, {120000, 60000, 60000},
	}
	for _, tt := range tests {
		if got := bound(tt.session, tt.round); got != tt.want {
			t.Errorf("bound(%d, %d) = %d, want %d", tt.session, tt.round, got, tt.want)
		}
	}
}
