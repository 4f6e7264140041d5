package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/sqldb"
)

// poisonExpiry makes every release of an expired hold whose id starts with
// "poison" fail, as a broken row would, until the returned func cures it.
func poisonExpiry(t *testing.T, e *env) (cure func()) {
	t.Helper()
	ctx := context.Background()
	install := []string{`CREATE TRIGGER poison BEFORE INSERT ON inventory_ledger
		WHEN NEW.reservation_id LIKE 'poison%' AND NEW.reason = 'expired'
		BEGIN SELECT RAISE(ABORT, 'poisoned hold'); END`}
	remove := []string{"DROP TRIGGER poison"}
	if e.svc.db.Dialect() == sqldb.Postgres {
		install = []string{`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.reservation_id LIKE 'poison%' AND NEW.reason = 'expired' THEN
					RAISE EXCEPTION 'poisoned hold';
				END IF;
				RETURN NEW;
			END $$`,
			`CREATE TRIGGER poison BEFORE INSERT ON inventory_ledger
				FOR EACH ROW EXECUTE FUNCTION poison()`}
		remove = []string{"DROP TRIGGER poison ON inventory_ledger", "DROP FUNCTION poison()"}
	}
	for _, q := range install {
		if _, err := e.svc.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, q := range remove {
			if _, err := e.svc.db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSweepSkipsFailingHolds: holds whose release fails, the oldest ones and
// more than a page of them, do not keep the sweeper from releasing the
// others; each failure is logged, and they are released once they can be.
func TestSweepSkipsFailingHolds(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		clk := newManualClock()
		e := start(t, dbURL, func(c *Config) {
			c.now, c.SweepInterval, c.sweepBatch = clk.Now, time.Hour, 2
		})
		a := e.createProduct("POISON-A", 1000, 20)
		var poisoned, good []string
		for i := range 3 {
			poisoned = append(poisoned, fmt.Sprintf("poison-%d", i))
			good = append(good, fmt.Sprintf("good-%d", i))
		}
		for _, h := range []struct {
			ids []string
			ttl int
		}{{poisoned, 10}, {good, 20}} { // the poisoned ones expire first
			for _, id := range h.ids {
				expect(t, e.call("POST", "/internal/reservations", reserveBody(id, h.ttl, Line{a.ID, 1})),
					http.StatusCreated, "")
			}
		}
		cure := poisonExpiry(t, e)
		clk.Advance(time.Minute)
		n, err := e.svc.SweepExpired(context.Background())
		if err != nil || n != len(good) {
			t.Fatalf("sweep released %d (%v), want %d", n, err, len(good))
		}
		for _, id := range good {
			if got := e.reservationStatus(id); got != Released {
				t.Errorf("%s is %s, want released", id, got)
			}
		}
		logs := e.logs.String()
		for _, id := range poisoned {
			if got := e.reservationStatus(id); got != Held {
				t.Errorf("%s is %s, want held", id, got)
			}
			if !strings.Contains(logs, `"reservation_id":"`+id+`"`) {
				t.Errorf("the failure to release %s is not logged", id)
			}
		}
		if got := e.inventory(a.ID).Reserved; got != int64(len(poisoned)) {
			t.Errorf("%d reserved, want %d", got, len(poisoned))
		}

		cure()
		if n, err := e.svc.SweepExpired(context.Background()); err != nil || n != len(poisoned) {
			t.Fatalf("sweep after the cure released %d (%v), want %d", n, err, len(poisoned))
		}
		if got := e.inventory(a.ID).Reserved; got != 0 {
			t.Errorf("%d reserved after the cure, want 0", got)
		}
	})
}
