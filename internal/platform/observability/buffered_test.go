package observability

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"emporium/internal/platform/testkit"
)

// syncBuffer is what a BufferedWriter writes to, read by the test.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBufferedWriterBatchesAndLosesNothingOnClose(t *testing.T) {
	out := &syncBuffer{}
	w := NewBufferedWriter(out, time.Hour) // no periodic flush during the test
	log := NewLogger(w, slog.LevelInfo)
	for i := range 100 {
		log.Info("line", slog.Int("n", i))
	}
	if got := out.String(); got != "" {
		t.Errorf("written before a flush: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != 100 || out.writes != 1 {
		t.Errorf("after Close: %d lines in %d writes, want 100 in 1", got, out.writes)
	}
}

func TestBufferedWriterFlushesPeriodically(t *testing.T) {
	out := &syncBuffer{}
	w := NewBufferedWriter(out, 10*time.Millisecond)
	t.Cleanup(func() { w.Close() })
	io.WriteString(w, "one line\n")
	testkit.Eventually(t, 5*time.Second, func() bool { return out.String() == "one line\n" },
		"the line was not flushed")
}

// BenchmarkAccessLine is one access-log-sized line through the JSON logger,
// written to a file (/dev/null: a system call per line) straight and
// through a BufferedWriter.
func BenchmarkAccessLine(b *testing.B) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { null.Close() })
	buffered := NewBufferedWriter(null, 0)
	b.Cleanup(func() { buffered.Close() })
	for _, c := range []struct {
		name string
		w    io.Writer
	}{{"unbuffered", null}, {"buffered", buffered}} {
		b.Run(c.name, func(b *testing.B) {
			log := NewLogger(c.w, slog.LevelInfo).With(slog.String("service", "catalog"))
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(b.Context(), slog.LevelInfo, "request",
					slog.String("request_id", "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"),
					slog.String("method", "GET"), slog.String("route", "GET /api/v1/products/{id}"),
					slog.String("path", "/api/v1/products/0193a1b2"), slog.Int("status", 200),
					slog.Int64("bytes", 412), slog.Float64("duration_ms", 0.412),
					slog.String("remote_addr", "127.0.0.1:40000"))
			}
		})
	}
}
