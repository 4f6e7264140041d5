package bus

import "testing"

// The embedded server syncs each message to disk before acknowledging it, so
// that an outbox row marked published in a synced commit is never lost by the
// bus in a power loss.
func TestEmbeddedSyncsEveryMessage(t *testing.T) {
	t.Parallel()
	e, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	cfg := e.srv.JetStreamConfig()
	if cfg == nil || !cfg.SyncAlways {
		t.Fatalf("JetStream config = %+v, want SyncAlways", cfg)
	}
}
