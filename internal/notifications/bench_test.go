package notifications

import (
	"context"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/app"
	"emporium/internal/platform/bus/bustest"
	"emporium/internal/platform/sqldb/sqldbtest"
	"emporium/internal/platform/testkit"
)

// BenchmarkEventToSent measures the whole path of order confirmations
// waiting on the bus: consumed (inbox, rendering, delivery and effect
// recorded in one transaction), sent by the effect runner into the outbox
// directory, and marked sent. The events are published before the service
// starts, so that the test's publishing is not measured. It reports events
// per second; SQLite always, PostgreSQL when configured.
func BenchmarkEventToSent(b *testing.B) {
	urls := map[string]func() string{"sqlite": func() string { return sqliteURL(b) }}
	if sqldbtest.PostgresURL() != "" {
		urls["postgres"] = func() string { return sqldbtest.PostgresDatabase(b) }
	}
	for name, dbURL := range urls {
		b.Run(name, func(b *testing.B) {
			nats := e2eNATS(b)
			pub := &env{t: b, bus: bustest.Dial(b, nats.url), streams: map[string]bool{}}
			ensureStream(b, pub.bus, app.IdentityStream, "identity.>")
			pub.publish(registered(b, "user-1", "jane@example.com", "Jane", "", false))
			for range b.N {
				pub.publish(orderEvent(b, event.OrderPaid, "user-1", nil))
			}
			b.ResetTimer()
			start := time.Now()
			e := startOn(b, dbURL(), nats.url, nats.issuer, func(c *Config) { c.Quota = 1 << 30 })
			e.waitSent(b.N + 1)
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// waitSent waits until n deliveries are sent.
func (e *env) waitSent(n int) {
	e.t.Helper()
	testkit.Eventually(e.t, 5*time.Minute, func() bool {
		var sent int
		err := e.svc.db.QueryRowContext(context.Background(),
			`SELECT count(*) FROM deliveries WHERE status = 'sent'`).Scan(&sent)
		return err == nil && sent >= n
	}, "fewer than %d deliveries sent", n)
}
