package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"emporium/internal/platform/backoff"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/observability"
	"emporium/internal/platform/sqldb"
	"emporium/internal/platform/wakeup"
)

// Publisher publishes one message and waits for the bus to store it; msgID is
// the deduplication key. *bus.Bus is one. An error that no retry of the
// message can fix is marked bus.Permanent, and the relay parks that event.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte, header nats.Header) error
}

// RelayConfig tunes a Relay. Zero values take the defaults.
type RelayConfig struct {
	Batch int // rows per round; 100
	// PollInterval is the wait after a round that was not full: 100ms on
	// PostgreSQL, where other replicas add events too; 1s on SQLite, whose
	// every writer is this process (its commits wake the relay at once), so
	// the poll only picks up what another process wrote — the all-in-one's
	// import-products and create-admin commands — and an idle shop does not
	// query six databases ten times a second.
	PollInterval    time.Duration
	Retention       time.Duration // how long published rows are kept; 24h
	CleanupInterval time.Duration // how often old rows are deleted; 1m
	MaxBackoff      time.Duration // longest wait while the bus is down; 5s
	PublishTimeout  time.Duration // bound on one publish; 5s
	// RoundTimeout bounds one round: on PostgreSQL its transaction, which
	// the server's idle_in_transaction_session_timeout and
	// transaction_timeout shorten further when set. The relay sets its
	// transaction's idle_in_transaction_session_timeout and
	// statement_timeout to it (or keeps the session's, when shorter), so the
	// server frees the lock of a relay that died or hung mid-round, which
	// other replicas wait for, at most that long after it fell silent. A
	// round stops publishing
	// in time to mark what it published (a tenth of the round is kept for
	// that), and the next round goes on from there; within a round each
	// publish is also bounded by a quarter of it. Keep it well under the
	// stream's duplicate window, which absorbs the repeats of a round that
	// crashed before marking; 1m.
	RoundTimeout time.Duration
	Logger       *slog.Logger // nil logs to slog.Default()
	Registerer   prometheus.Registerer
	// Subjects are the subjects (NATS patterns, "orders.>") of the events
	// this relay publishes: a commit in this process that adds one wakes the
	// relay before its next poll. None means every commit that adds an
	// event wakes it.
	Subjects []string
}

// Relay moves events from the outbox table to the bus. Its only state is the
// table, so it can stop at any point and a new one carries on.
//
// On PostgreSQL several replicas may run a relay on one database. Each round
// runs in one transaction that first takes a transaction-scoped advisory lock
// (pg_try_advisory_xact_lock) and holds it while it reads a batch, publishes
// it and marks it; a replica that does not get the lock skips the round. So
// one relay publishes at a time, rows go out in sequence order, and a row
// marked by one relay is committed before another can read it: nothing is
// published twice by two relays. FOR UPDATE SKIP LOCKED would let replicas
// publish different batches at once, but then a later batch can reach the
// bus before an earlier one, which breaks the order consumers rely on; one
// serial publisher is fast enough for one service's events. A round publishes
// only while its transaction can still mark what went out (see
// RelayConfig.RoundTimeout) and leaves the rest of its batch to the next, so
// a slow bus slows the relay down but never has it publish the same rows
// round after round.
//
// On SQLite (one process per file) a round reads outside any transaction,
// publishes, then marks in a short write transaction, so the single writer
// connection is never held during network I/O.
//
// "In order" means sequence order among committed rows. On PostgreSQL a
// transaction that took a lower sequence but commits after a row with a higher
// one was published is published after it; events about one entity keep their
// order because their transactions serialize on that entity's row. A parked
// event (see the package documentation) is the other exception: the events
// after it go out without it, and it goes out of order if it is requeued.
//
// Run one Run per Relay at a time; run a Relay per process.
type Relay struct {
	db  *sqldb.DB
	pub Publisher
	cfg RelayConfig
	log *slog.Logger
	m   *metrics

	// beforeMark, set by tests, runs after a batch is published and before it
	// is marked; an error abandons the round as a crash there would.
	beforeMark func() error
	gaugedAt   time.Time
	backoff    backoff.Policy
	// settings are the session's limits, read once every settingsMaxAge;
	// settingsReads counts the reads, for tests.
	settings      sessionLimits
	settingsReads int
	// listening is true while Run listens for commits of the relay's
	// subjects (see commits), for tests.
	listening atomic.Bool
}

// relayLockKey is the advisory lock of the relay ("outbox" in ASCII). Advisory
// locks are per database, and each service has its own.
const relayLockKey int64 = 0x6f7574626f78

// NewRelay returns a relay from db's outbox to pub.
func NewRelay(db *sqldb.DB, pub Publisher, cfg RelayConfig) *Relay {
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
		if db.Dialect() == sqldb.SQLite {
			cfg.PollInterval = time.Second
		}
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 24 * time.Hour
	}
	if cfg.CleanupInterval <= 0 {
		cfg.CleanupInterval = time.Minute
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	if cfg.RoundTimeout <= 0 {
		cfg.RoundTimeout = time.Minute
	}
	return &Relay{db: db, pub: pub, cfg: cfg,
		log: observability.OrDefault(cfg.Logger).With("component", "outbox-relay"),
		m:   newMetrics(cfg.Registerer),
		// Doubles from PollInterval up to MaxBackoff, 20% jitter below that.
		backoff: backoff.Policy{Initial: cfg.PollInterval, Max: cfg.MaxBackoff, Jitter: 0.2}}
}

// Run publishes the outbox until ctx ends, then returns nil. While the bus is
// down it backs off, logging a warning, and resumes in order when it returns.
// It parks an event the bus can never take, logging an error, and goes on.
func (r *Relay) Run(ctx context.Context) error {
	wake, stop := commits.Listen(r.wants)
	defer stop()
	r.listening.Store(true)
	defer r.listening.Store(false)
	failures := 0
	nextCleanup := time.Now()
	for {
		_, more, err := r.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			r.m.failures.Inc()
			delay := r.backoff.Delay(failures)
			r.log.Warn("outbox relay: round failed, backing off", "err", err,
				"failures", failures, "retry_in", delay)
			r.gauges(ctx, true)
			if !backoff.Sleep(ctx, delay) {
				return nil
			}
			continue
		}
		if failures > 0 {
			r.log.Info("outbox relay: resumed", "after_failures", failures)
			failures = 0
		}
		if now := time.Now(); !now.Before(nextCleanup) {
			if _, err := r.cleanup(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("outbox relay: cleanup", "err", err)
			}
			nextCleanup = now.Add(r.cfg.CleanupInterval)
		}
		r.gauges(ctx, false)
		if more {
			continue
		}
		// The poll interval, or less when an event is committed in this process.
		if !wakeup.Sleep(ctx, r.cfg.PollInterval, wake) {
			return nil
		}
	}
}

// round publishes one batch, or as much of it as the round's time allows, and
// reports how many rows it published and whether more may be waiting.
func (r *Relay) round(ctx context.Context) (int, bool, error) {
	if r.db.Dialect() == sqldb.Postgres {
		return r.roundLocked(ctx)
	}
	return r.roundUnlocked(ctx)
}

// settingsQuery reads the session's limits on a transaction in
// milliseconds (0 for none; transaction_timeout is new in PostgreSQL 17).
// The relay reads them once every settingsMaxAge, not every round: every
// connection of a pool is set up alike (sqldb), and they change only when an
// operator changes the server's configuration.
const settingsQuery = `SELECT
	COALESCE((SELECT setting::bigint FROM pg_settings
		WHERE name = 'idle_in_transaction_session_timeout'), 0),
	COALESCE((SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'), 0),
	COALESCE((SELECT setting::bigint FROM pg_settings WHERE name = 'transaction_timeout'), 0)`

// settingsMaxAge is how long the relay trusts the limits it read.
const settingsMaxAge = time.Minute

// sessionLimits are the limits a relay read with settingsQuery, in
// milliseconds.
type sessionLimits struct {
	idleMS, statementMS, txMS int64
	readAt                    time.Time
}

// lockQuery bounds the round's transaction on the server and takes the
// relay's lock, in one round trip. The bound frees the lock when the relay
// dies, hangs or loses the network mid-round: otherwise the session would
// hold it, and every other replica would skip its rounds, until TCP gave up
// on the relay, hours later. The transaction's
// idle_in_transaction_session_timeout ($1) and statement_timeout ($2) are
// the round's timeout, or the session's when it is shorter (see
// sessionLimits.bound).
const lockQuery = `SELECT set_config('idle_in_transaction_session_timeout', $1, true),
	set_config('statement_timeout', $2, true), pg_try_advisory_xact_lock($3)`

// bound returns a session limit in milliseconds as the round sets it: the
// round's own, or the session's when that is shorter (0 is none).
func bound(sessionMS, roundMS int64) int64 {
	if sessionMS == 0 {
		return roundMS
	}
	return min(sessionMS, roundMS)
}

// limits returns the session's limits, read again when they are older than
// settingsMaxAge.
func (r *Relay) limits(ctx context.Context) (sessionLimits, error) {
	if !r.settings.readAt.IsZero() && time.Since(r.settings.readAt) < settingsMaxAge {
		return r.settings, nil
	}
	var l sessionLimits
	if err := r.db.QueryRowContext(ctx, settingsQuery).Scan(&l.idleMS, &l.statementMS,
		&l.txMS); err != nil {
		return sessionLimits{}, fmt.Errorf("read session limits: %w", err)
	}
	l.readAt = time.Now()
	r.settings = l
	r.settingsReads++
	return l, nil
}

func (r *Relay) roundLocked(ctx context.Context) (int, bool, error) {
	start := time.Now()
	// The transaction outlives ctx so that rows already published when ctx
	// ends are still marked; publishing itself stops with ctx.
	txCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.RoundTimeout)
	defer cancel()
	var out outcome
	var more bool
	var pubErr error
	// Read committed, whatever the server's default: each statement must see
	// the rows the previous lock holder marked before it released the lock.
	opts := &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	session, err := r.limits(txCtx)
	if err != nil {
		return 0, false, fmt.Errorf("outbox relay: %w", err)
	}
	roundMS := max(r.cfg.RoundTimeout.Milliseconds(), 1)
	idleMS := bound(session.idleMS, roundMS)
	statementMS := bound(session.statementMS, roundMS)
	txMS := session.txMS
	err = r.db.TxOptions(txCtx, opts, func(tx *sqldb.Tx) error {
		out, more, pubErr = outcome{}, false, nil
		var locked bool
		var idleSet, statementSet string
		err := tx.QueryRowContext(txCtx, lockQuery, strconv.FormatInt(idleMS, 10),
			strconv.FormatInt(statementMS, 10), relayLockKey).Scan(&idleSet, &statementSet, &locked)
		if err != nil {
			return fmt.Errorf("limit transaction and lock: %w", err)
		}
		if !locked {
			return nil
		}
		rows, err := readBatch(txCtx, tx, r.cfg.Batch)
		if err != nil {
			return err
		}
		// Publishing leaves the transaction idle, so the idle limit bounds it
		// as much as the transaction's own.
		b := newBudget(start, r.cfg.RoundTimeout, r.cfg.PublishTimeout,
			time.Duration(idleMS)*time.Millisecond, time.Duration(txMS)*time.Millisecond)
		out, pubErr = r.publish(ctx, rows, b)
		more = len(rows) == r.cfg.Batch || out.handled() < len(rows)
		if out.handled() == 0 {
			return nil
		}
		if r.beforeMark != nil {
			if err := r.beforeMark(); err != nil {
				return err
			}
		}
		return out.record(txCtx, tx)
	})
	if err != nil {
		return 0, false, fmt.Errorf("outbox relay: %w", err)
	}
	r.recorded(out)
	if pubErr != nil {
		return len(out.sent), more, fmt.Errorf("outbox relay: %w", pubErr)
	}
	return len(out.sent), more, nil
}

func (r *Relay) roundUnlocked(ctx context.Context) (int, bool, error) {
	start := time.Now()
	rows, err := readBatch(ctx, r.db, r.cfg.Batch)
	if err != nil {
		return 0, false, fmt.Errorf("outbox relay: %w", err)
	}
	// No transaction waits here, but rows stay published and unmarked while
	// the batch goes out; bounding that keeps a crash's repeats inside the
	// stream's duplicate window.
	out, pubErr := r.publish(ctx, rows, newBudget(start, r.cfg.RoundTimeout,
		r.cfg.PublishTimeout))
	more := len(rows) == r.cfg.Batch || out.handled() < len(rows)
	if out.handled() > 0 {
		if r.beforeMark != nil {
			if err := r.beforeMark(); err != nil {
				return 0, false, fmt.Errorf("outbox relay: %w", err)
			}
		}
		markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.RoundTimeout)
		defer cancel()
		err := r.db.Tx(markCtx, func(tx *sqldb.Tx) error { return out.record(markCtx, tx) })
		if err != nil {
			return 0, false, fmt.Errorf("outbox relay: %w", err)
		}
		r.recorded(out)
	}
	if pubErr != nil {
		return len(out.sent), more, fmt.Errorf("outbox relay: %w", pubErr)
	}
	return len(out.sent), more, nil
}

// row is one outbox entry waiting to be published.
type row struct {
	seq       int64
	eventID   string
	subject   string
	payload   string
	headers   string
	createdAt time.Time
}

// querier is what reading needs: the database outside a transaction or a Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readBatch(ctx context.Context, q querier, limit int) ([]row, error) {
	rs, err := q.QueryContext(ctx, `SELECT seq, event_id, subject, payload, headers, created_at
		FROM outbox WHERE published_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT $1`,
		limit)
	if err != nil {
		return nil, fmt.Errorf("read batch: %w", err)
	}
	defer rs.Close()
	var rows []row
	for rs.Next() {
		var x row
		if err := rs.Scan(&x.seq, &x.eventID, &x.subject, &x.payload, &x.headers,
			&x.createdAt); err != nil {
			return nil, fmt.Errorf("read batch: %w", err)
		}
		rows = append(rows, x)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read batch: %w", err)
	}
	return rows, nil
}

// publish publishes rows in order. A row the bus can never take
// (bus.IsPermanent) is set aside to be parked, and publishing goes on with the
// next. It stops at any other failure, or before a publish that might not end
// within the budget, and returns what it did.
func (r *Relay) publish(ctx context.Context, rows []row, b budget) (outcome, error) {
	var out outcome
	for _, x := range rows {
		timeout := b.publishTimeout
		if left := time.Until(b.stopAt); left < timeout {
			if out.handled() > 0 {
				return out, nil // the rest goes in the next round
			}
			if left <= 0 {
				return out, errors.New("publish: the round's time ran out before publishing")
			}
			timeout = left
		}
		header, err := decodeHeaders(x.headers)
		if err != nil {
			// Headers only carry trace context; an event is not held back for it.
			r.log.Warn("outbox relay: bad headers", "event_id", x.eventID, "err", err)
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err = r.pub.Publish(pctx, x.subject, x.eventID, []byte(x.payload), header)
		cancel()
		if bus.IsPermanent(err) {
			out.parked = append(out.parked, parkedRow{x, truncate(err.Error(), maxReason)})
			continue
		}
		if err != nil {
			return out, fmt.Errorf("publish %s %s: %w", x.subject, x.eventID, err)
		}
		out.sent = append(out.sent, x)
		r.m.delay.Observe(time.Since(x.createdAt).Seconds())
	}
	return out, nil
}

func decodeHeaders(s string) (nats.Header, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	h := make(nats.Header, len(m))
	for k, v := range m {
		h.Set(k, v)
	}
	return h, nil
}

func markPublished(ctx context.Context, tx *sqldb.Tx, rows []row) error {
	var q strings.Builder
	q.WriteString("UPDATE outbox SET published_at = $1 WHERE seq IN (")
	args := make([]any, 0, len(rows)+1)
	args = append(args, time.Now().UTC())
	for i, x := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("$" + strconv.Itoa(i+2))
		args = append(args, x.seq)
	}
	q.WriteString(")")
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return fmt.Errorf("mark published: %w", err)
	}
	return nil
}

// cleanupChunk bounds one delete, so SQLite's writer is never held for long.
const cleanupChunk = 1000

// cleanup deletes rows published longer than Retention ago. Parked rows are
// never published, so it keeps them.
func (r *Relay) cleanup(ctx context.Context) (int64, error) {
	cutoff := time.Now().UTC().Add(-r.cfg.Retention)
	var total int64
	for {
		res, err := r.db.ExecContext(ctx, `DELETE FROM outbox WHERE seq IN (
			SELECT seq FROM outbox WHERE published_at IS NOT NULL AND published_at < $1
			ORDER BY seq LIMIT $2)`, cutoff, cleanupChunk)
		if err != nil {
			return total, fmt.Errorf("outbox cleanup: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("outbox cleanup: %w", err)
		}
		total += n
		if n < cleanupChunk {
			return total, nil
		}
	}
}

// gauges refreshes the backlog, lag and parked gauges, at most once a second
// unless forced.
func (r *Relay) gauges(ctx context.Context, force bool) {
	if !force && time.Since(r.gaugedAt) < time.Second {
		return
	}
	r.gaugedAt = time.Now()
	var backlog, parked int64
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox
		WHERE published_at IS NULL AND parked_at IS NULL`).Scan(&backlog); err != nil {
		return
	}
	r.m.backlog.Set(float64(backlog))
	if err := r.db.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM outbox WHERE parked_at IS NOT NULL").Scan(&parked); err != nil {
		return
	}
	r.m.parkedNow.Set(float64(parked))
	var oldest time.Time
	err := r.db.QueryRowContext(ctx, `SELECT created_at FROM outbox
		WHERE published_at IS NULL AND parked_at IS NULL ORDER BY seq LIMIT 1`).Scan(&oldest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		r.m.lag.Set(0)
	case err == nil:
		r.m.lag.Set(max(time.Since(oldest).Seconds(), 0))
	}
}
