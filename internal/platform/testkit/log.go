package testkit

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// SyncBuffer is a bytes.Buffer safe for a logger and a test to share. The
// zero value is empty and ready to use.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a text logger at debug level that writes to w, and also to
// the test's output while tests run verbose (-v).
func Logger(t testing.TB, w io.Writer) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		w = io.MultiWriter(w, t.Output())
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
