package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
)

// FollowConfig describes a Follow: which events to read and from when.
type FollowConfig struct {
	Stream  string
	Subject string // one subject (or wildcard): servers before 2.10 take one filter
	// Since is how far back to start reading; zero reads only new events.
	Since time.Duration
	// Handler applies one event. It is not retried: a follower keeps
	// per-process state (a cache, a revocation list) that the next event or a
	// restart rebuilds, so it logs and moves on.
	Handler func(ctx context.Context, env event.Envelope)
	// CaughtUp, when set, is called (once per call of Follow) when Handler
	// has been given every event the stream held when Follow started (from
	// Since on, on Subject): at once when there was none, or the stream does
	// not exist. Per-process
	// state that must be complete before the process serves (a revocation
	// list) gates readiness on it.
	CaughtUp func()
	Logger   *slog.Logger
}

// Follow reads events with an ordered (ephemeral) consumer until ctx ends:
// unlike Consume, where replicas share the work, every process that follows
// sees every event. It returns nil when ctx ends and an error when the stream
// cannot be read (the caller restarts it).
//
// It knows it has caught up when the server says no event is pending behind
// the one delivered (or none was pending when it started): events published
// meanwhile only make it read further before it says so.
func (b *Bus) Follow(ctx context.Context, cfg FollowConfig) error {
	occ := jetstream.OrderedConsumerConfig{FilterSubjects: []string{cfg.Subject},
		DeliverPolicy: jetstream.DeliverNewPolicy}
	if cfg.Since > 0 {
		start := time.Now().Add(-cfg.Since)
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	log := cfg.Logger
	if log == nil {
		log = b.log
	}
	caughtUp := func() {
		if cfg.CaughtUp != nil {
			cfg.CaughtUp()
			cfg.CaughtUp = nil
		}
	}
	cons, err := b.js.OrderedConsumer(ctx, cfg.Stream, occ)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		caughtUp() // no stream, no events
	}
	if err != nil {
		return fmt.Errorf("follow %s %s: %w", cfg.Stream, cfg.Subject, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow %s %s: %w", cfg.Stream, cfg.Subject, err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	// The consumer was made by OrderedConsumer; its info says how many
	// events were waiting for it then.
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		caughtUp()
	}
	for {
		msg, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow %s %s: %w", cfg.Stream, cfg.Subject, err)
		}
		var env event.Envelope
		if err := json.Unmarshal(msg.Data(), &env); err != nil {
			log.WarnContext(ctx, "follow: ignoring a malformed event",
				slog.String("subject", msg.Subject()))
		} else {
			cfg.Handler(ctx, env)
		}
		if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
			caughtUp()
		}
	}
}
