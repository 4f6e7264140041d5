package bustest

import (
	"sync"
	"testing"

	"emporium/internal/platform/bus"
)

// Restartable is an embedded server on a fixed local address that a test can
// stop and start again on the same store, to play an outage.
type Restartable struct {
	t    testing.TB
	mu   sync.Mutex
	cfg  bus.EmbeddedConfig
	e    *bus.Embedded
	addr string
}

// NewRestartable starts a server listening on a free local port, with its
// store in a temporary directory. Its cleanup is registered first, so it runs
// after the cleanups of the buses and streams made on it.
func NewRestartable(t testing.TB) *Restartable {
	t.Helper()
	r := &Restartable{t: t, cfg: bus.EmbeddedConfig{Dir: t.TempDir(), Listen: "127.0.0.1:0"}}
	t.Cleanup(r.Stop)
	r.Start()
	r.addr = r.e.Addr().String()
	r.cfg.Listen = r.addr
	return r
}

// URL is the server's nats:// URL, the same across restarts.
func (r *Restartable) URL() string { return "nats://" + r.addr }

// Stop shuts the server down; it does nothing when it is not running.
func (r *Restartable) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.e != nil {
		r.e.Shutdown()
		r.e = nil
	}
}

// Start starts the server again on the same address and store.
func (r *Restartable) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.e != nil {
		return
	}
	e, err := bus.StartEmbedded(r.cfg)
	if err != nil {
		r.t.Fatalf("start embedded nats: %v", err)
	}
	r.e = e
}
