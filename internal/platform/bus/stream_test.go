package bus_test

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/platform/bus"
	"emporium/internal/platform/bus/bustest"
)

func streamConfig(t *testing.T, b *bus.Bus, name string) jetstream.StreamConfig {
	t.Helper()
	s, err := b.JetStream().Stream(ctxT(t), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

// An operator raises a stream's limits by hand; a start (EnsureStream again,
// with a subject more) keeps them, and only a limit the configuration sets
// explicitly replaces the operator's.
func TestEnsureStreamKeepsTheOperatorsSettings(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		cfg := bus.StreamConfig{MaxAge: time.Hour}
		s := bustest.NewStream(t, b, cfg)
		cfg.Name, cfg.Subjects = s.Name, []string{s.Prefix + ".>"}
		created := streamConfig(t, b, s.Name)
		if created.MaxAge != time.Hour || created.Replicas != 1 ||
			created.Duplicates != bus.DefaultDuplicates {
			t.Errorf("created with max age %s, %d replicas, duplicates %s; want 1h, 1, %s",
				created.MaxAge, created.Replicas, created.Duplicates, bus.DefaultDuplicates)
		}

		operator := created
		operator.MaxAge, operator.MaxBytes, operator.MaxMsgs = 48*time.Hour, 1<<30, 1_000_000
		if _, err := b.JetStream().UpdateStream(ctxT(t), operator); err != nil {
			t.Fatalf("operator's update: %v", err)
		}

		more := "t" + bustest.Unique() + ".>"
		cfg.Subjects = append(cfg.Subjects, more)
		if err := b.EnsureStream(ctxT(t), cfg); err != nil {
			t.Fatalf("ensure after restart: %v", err)
		}
		got := streamConfig(t, b, s.Name)
		if got.MaxAge != 48*time.Hour || got.MaxBytes != 1<<30 || got.MaxMsgs != 1_000_000 {
			t.Errorf("after a start: max age %s, max bytes %d, max msgs %d; want the "+
				"operator's 48h, %d, 1000000", got.MaxAge, got.MaxBytes, got.MaxMsgs, 1<<30)
		}
		if !slices.Contains(got.Subjects, more) {
			t.Errorf("subjects = %v, want %s added", got.Subjects, more)
		}

		cfg.Override = bus.StreamLimits{MaxAge: 72 * time.Hour}
		if err := b.EnsureStream(ctxT(t), cfg); err != nil {
			t.Fatalf("ensure with an explicit max age: %v", err)
		}
		got = streamConfig(t, b, s.Name)
		if got.MaxAge != 72*time.Hour || got.MaxBytes != 1<<30 {
			t.Errorf("with MaxAge configured: max age %s, max bytes %d; want 72h and the "+
				"operator's %d", got.MaxAge, got.MaxBytes, 1<<30)
		}
	})
}

func TestEnsureStreamCreates(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(t *testing.T, b *bus.Bus) {
		t.Parallel()
		tests := []struct {
			name string
			cfg  bus.StreamConfig
			want jetstream.StreamConfig
		}{
			{"defaults", bus.StreamConfig{},
				jetstream.StreamConfig{Replicas: 1, Duplicates: bus.DefaultDuplicates,
					MaxBytes: -1}},
			{"duplicates within max age", bus.StreamConfig{MaxAge: time.Minute},
				jetstream.StreamConfig{Replicas: 1, Duplicates: time.Minute,
					MaxAge: time.Minute, MaxBytes: -1}},
			{"override wins", bus.StreamConfig{MaxAge: time.Hour, MaxBytes: 1 << 20,
				Override: bus.StreamLimits{MaxAge: 2 * time.Hour, MaxBytes: 1 << 21}},
				jetstream.StreamConfig{Replicas: 1, Duplicates: bus.DefaultDuplicates,
					MaxAge: 2 * time.Hour, MaxBytes: 1 << 21}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				s := bustest.NewStream(t, b, tt.cfg)
				got := streamConfig(t, b, s.Name)
				if got.Replicas != tt.want.Replicas || got.Duplicates != tt.want.Duplicates ||
					got.MaxAge != tt.want.MaxAge || got.MaxBytes != tt.want.MaxBytes ||
					got.Storage != jetstream.FileStorage {
					t.Errorf("replicas %d, duplicates %s, max age %s, max bytes %d, "+
						"storage %s; want %d, %s, %s, %d, file", got.Replicas, got.Duplicates,
						got.MaxAge, got.MaxBytes, got.Storage, tt.want.Replicas,
						tt.want.Duplicates, tt.want.MaxAge, tt.want.MaxBytes)
				}
			})
		}
	})
}
