package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamConfig describes a stream: one per publishing service, such as
// {Name: "IDENTITY", Subjects: ["identity.>"]}.
type StreamConfig struct {
	Name     string
	Subjects []string
	// Duplicates is the window in which a repeated Nats-Msg-Id (event id) is
	// dropped; 2 minutes when zero. It must outlast a relay's retry of an
	// unmarked outbox row for the dedupe to absorb it; the inbox covers the rest.
	Duplicates time.Duration
	// MaxAge drops messages older than this; zero keeps them until limits.
	MaxAge time.Duration
	// Replicas is the number of copies in a cluster; 1 when zero.
	Replicas int
}

// DefaultDuplicates is the deduplication window of a stream that names none.
const DefaultDuplicates = 2 * time.Minute

// DeadLetterStream is the stream that holds messages consumers gave up on, on
// subjects deadletter.<consumer>.<original subject>.
const DeadLetterStream = "DEADLETTER"

// DeadLetterPrefix starts every dead-letter subject.
const DeadLetterPrefix = "deadletter."

// EnsureStream creates the stream or updates it to cfg, on file storage.
func (b *Bus) EnsureStream(ctx context.Context, cfg StreamConfig) error {
	if cfg.Name == "" || len(cfg.Subjects) == 0 {
		return errors.New("bus ensure stream: Name and Subjects are required")
	}
	if cfg.Duplicates <= 0 {
		cfg.Duplicates = DefaultDuplicates
	}
	if cfg.MaxAge > 0 && cfg.Duplicates > cfg.MaxAge {
		cfg.Duplicates = cfg.MaxAge
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Name,
		Subjects:   cfg.Subjects,
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		Duplicates: cfg.Duplicates,
		MaxAge:     cfg.MaxAge,
		Replicas:   cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus ensure stream %s: %w", cfg.Name, classify(err))
	}
	return nil
}

// EnsureDeadLetter creates or updates the DEADLETTER stream, which keeps dead
// letters for 30 days.
func (b *Bus) EnsureDeadLetter(ctx context.Context) error {
	return b.EnsureStream(ctx, StreamConfig{
		Name:     DeadLetterStream,
		Subjects: []string{DeadLetterPrefix + ">"},
		MaxAge:   30 * 24 * time.Hour,
	})
}
