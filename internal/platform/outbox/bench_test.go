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
// JetStream (sync publish, file storage), reported as events/s: for each
// database available (sqlite, postgres) on an embedded server, which syncs
// every message to disk before its ack, and on the server at
// EMPORIUM_TEST_NATS_URL when it is set, which syncs as it is configured to.
func BenchmarkRelay(b *testing.B) {
	type dbCase struct {
		name string
		open func(b *testing.B) *sqldb.DB
	}
	dbs := []dbCase{{"sqlite", func(b *testing.B) *sqldb.DB { return sqldbtest.SQLite(b, schemas...) }}}
	if sqldbtest.PostgresURL() != "" {
		dbs = append(dbs, dbCase{"postgres",
			func(b *testing.B) *sqldb.DB { return sqldbtest.Postgres(b, schemas...) }})
	}
	type busCase struct {
		name string
		open func(b *testing.B) *bus.Bus
	}
	buses := []busCase{{"embedded",
		func(b *testing.B) *bus.Bus { return bustest.EmbeddedBus(b, bus.Options{}) }}}
	if bustest.NATSURL() != "" {
		buses = append(buses, busCase{"external",
			func(b *testing.B) *bus.Bus { return bustest.ExternalBus(b, bus.Options{}) }})
	}
	for _, d := range dbs {
		for _, n := range buses {
			b.Run(d.name+"/"+n.name, func(b *testing.B) {
				benchmarkRelay(b, d.open(b), n.open(b))
			})
		}
	}
}

func benchmarkRelay(b *testing.B, db *sqldb.DB, bs *bus.Bus) {
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
