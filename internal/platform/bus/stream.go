package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamConfig describes a stream: one per publishing service, such as
// {Name: "IDENTITY", Subjects: ["identity.>"]}.
//
// A stream belongs to its operator once it exists. EnsureStream creates a
// missing stream with all of this; on a stream that exists it brings only
// Subjects and Duplicates to this, and keeps the replicas and limits the
// stream has (which an operator may have raised) unless Override sets them.
type StreamConfig struct {
	Name     string
	Subjects []string
	// Duplicates is the window in which a repeated Nats-Msg-Id (event id) is
	// dropped; 2 minutes when zero. It must outlast a relay's retry of an
	// unmarked outbox row for the dedupe to absorb it; the inbox covers the
	// rest. It is shortened to the stream's MaxAge when that is shorter.
	Duplicates time.Duration
	// MaxAge drops messages older than this; zero keeps them until limits.
	// Applied when the stream is created.
	MaxAge time.Duration
	// MaxBytes drops the oldest messages past this size; zero for no limit.
	// Applied when the stream is created.
	MaxBytes int64
	// Replicas is the number of copies in a cluster; 1 when zero. Applied
	// when the stream is created.
	Replicas int
	// Override holds the settings an operator's configuration makes
	// explicit: applied when the stream is created and on every start after.
	Override StreamLimits
}

// StreamLimits are a stream's replicas and limits as an operator configures
// them. A zero field is not set: the stream keeps what it has.
type StreamLimits struct {
	Replicas int
	MaxAge   time.Duration
	MaxBytes int64
}

// DefaultDuplicates is the deduplication window of a stream that names none.
const DefaultDuplicates = 2 * time.Minute

// DeadLetterStream is the stream that holds messages consumers gave up on, on
// subjects deadletter.<consumer>.<original subject>.
const DeadLetterStream = "DEADLETTER"

// DeadLetterPrefix starts every dead-letter subject.
const DeadLetterPrefix = "deadletter."

// EnsureStream creates the stream cfg describes, on file storage, when it
// does not exist. When it does, it updates only what cfg asks for (Subjects,
// Duplicates and the fields Override sets) and leaves the rest as the
// stream's operator set it: a start never undoes a raised limit or replica
// count. Nothing is sent when nothing differs.
func (b *Bus) EnsureStream(ctx context.Context, cfg StreamConfig) error {
	if cfg.Name == "" || len(cfg.Subjects) == 0 {
		return errors.New("bus ensure stream: Name and Subjects are required")
	}
	if err := b.ensureStream(ctx, cfg); err != nil {
		return fmt.Errorf("bus ensure stream %s: %w", cfg.Name, classify(err))
	}
	return nil
}

func (b *Bus) ensureStream(ctx context.Context, cfg StreamConfig) error {
	s, err := b.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = b.js.CreateStream(ctx, newStreamConfig(cfg))
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return err
		}
		// Another replica created it first, perhaps with other settings.
		s, err = b.js.Stream(ctx, cfg.Name)
	}
	if err != nil {
		return err
	}
	have := s.CachedInfo().Config
	want := have
	want.Subjects = cfg.Subjects
	cfg.Override.apply(&want)
	want.Duplicates = duplicates(cfg.Duplicates, want.MaxAge)
	if sameSubjects(have.Subjects, want.Subjects) && have.Duplicates == want.Duplicates &&
		have.Replicas == want.Replicas && have.MaxAge == want.MaxAge &&
		have.MaxBytes == want.MaxBytes {
		return nil
	}
	_, err = b.js.UpdateStream(ctx, want)
	return err
}

// newStreamConfig is the configuration of a stream created for cfg.
func newStreamConfig(cfg StreamConfig) jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:      cfg.Name,
		Subjects:  cfg.Subjects,
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		MaxAge:    cfg.MaxAge,
		MaxBytes:  cfg.MaxBytes,
		Replicas:  max(cfg.Replicas, 1),
	}
	cfg.Override.apply(&sc)
	sc.Duplicates = duplicates(cfg.Duplicates, sc.MaxAge)
	return sc
}

// apply sets the fields of sc that o sets.
func (o StreamLimits) apply(sc *jetstream.StreamConfig) {
	if o.Replicas > 0 {
		sc.Replicas = o.Replicas
	}
	if o.MaxAge > 0 {
		sc.MaxAge = o.MaxAge
	}
	if o.MaxBytes > 0 {
		sc.MaxBytes = o.MaxBytes
	}
}

// duplicates is the deduplication window for d (DefaultDuplicates when zero)
// on a stream with maxAge, which the server requires it not to exceed.
func duplicates(d, maxAge time.Duration) time.Duration {
	if d <= 0 {
		d = DefaultDuplicates
	}
	if maxAge > 0 {
		d = min(d, maxAge)
	}
	return d
}

func sameSubjects(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool {
		return !slices.Contains(b, s)
	})
}

// EnsureDeadLetter creates the DEADLETTER stream, which keeps dead letters for
// 30 days, or brings its subjects up to date (see EnsureStream). replicas,
// when not zero, is the operator's replica count, applied as
// StreamLimits.Replicas is.
func (b *Bus) EnsureDeadLetter(ctx context.Context, replicas int) error {
	return b.EnsureStream(ctx, StreamConfig{
		Name:     DeadLetterStream,
		Subjects: []string{DeadLetterPrefix + ">"},
		MaxAge:   30 * 24 * time.Hour,
		Override: StreamLimits{Replicas: replicas},
	})
}
