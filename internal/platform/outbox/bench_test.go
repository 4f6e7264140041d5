package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"emporium/internal/event"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// BenchmarkRelay measures how fast a relay drains a backlog of b.N events to
// an embedded JetStream (sync publish, file storage), reported as events/s.
func BenchmarkRelay(b *testing.B) {
	dbs := map[string]func(b *testing.B) *sqldb.DB{
		"sqlite": func(b *testing.B) *sqldb.DB { return sqldbtest.SQLite(b, schemas...) },
	}
	if sqldbtest.PostgresURL() != "" {
		dbs["postgres"] = func(b *testing.B) *sqldb.DB { return sqldbtest.Postgres(b, schemas...) }
	}
	for _, name := range []string{"sqlite", "postgres"} {
		open, ok := dbs[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			db := open(b)
			bs := bustest.EmbeddedBus(b, bus.Options{})
			s := bustest.NewStream(b, bs, bus.StreamConfig{})
			fill(b, db, s.Subject("order", "placed"), b.N)
			r := NewRelay(db, bs, RelayConfig{})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			b.ResetTimer()
			start := time.Now()
			go func() { defer close(done); r.Run(ctx) }()
			err := testkit.Poll(5*time.Minute, func() bool {
				return testutil.ToFloat64(r.m.published) >= float64(b.N)
			})
			if err != nil {
				b.Fatalf("relay published %v of %d events: %v", testutil.ToFloat64(r.m.published), b.N, err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
		})
	}
}

// fill commits n events in transactions of 100.
func fill(b *testing.B, db *sqldb.DB, typ string, n int) {
	b.Helper()
	for n > 0 {
		k := min(n, 100)
		err := db.Tx(context.Background(), func(tx *sqldb.Tx) error {
			for range k {
				env, err := event.New(typ, "bench", map[string]any{"order_id": "o-1",
					"total": map[string]any{"amount": 1999, "currency": "USD"}})
				if err != nil {
					return err
				}
				if err := Add(context.Background(), tx, env); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		n -= k
	}
}
