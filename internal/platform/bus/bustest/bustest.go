// Package bustest gives tests a real NATS JetStream: an embedded server in a
// temporary directory always, and the server at EMPORIUM_TEST_NATS_URL when it
// is set. Streams get unique names and subjects and are deleted at cleanup, so
// tests can share the external server.
package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/platform/bus"
	"emporium/internal/platform/testkit"
)

// NATSURLEnv names the variable that points the tests at a NATS server, e.g.
// nats://127.0.0.1:4222.
const NATSURLEnv = "EMPORIUM_TEST_NATS_URL"

// NATSURL returns the external NATS server the tests use, or "".
func NATSURL() string { return os.Getenv(NATSURLEnv) }

// Run runs fn once per available server as a subtest: "embedded" always,
// "external" when EMPORIUM_TEST_NATS_URL is set (failing when it does not answer).
func Run(t *testing.T, fn func(t *testing.T, b *bus.Bus)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { fn(t, EmbeddedBus(t)) })
	if NATSURL() != "" {
		t.Run("external", func(t *testing.T) { fn(t, ExternalBus(t)) })
	}
}

// Embedded starts an in-process server on a temporary directory, shut down at
// cleanup.
func Embedded(t testing.TB) *bus.Embedded {
	t.Helper()
	return EmbeddedAt(t, bus.EmbeddedConfig{Dir: t.TempDir()})
}

// EmbeddedAt starts an in-process server with cfg, shut down at cleanup (a
// second Shutdown by the test is harmless).
func EmbeddedAt(t testing.TB, cfg bus.EmbeddedConfig) *bus.Embedded {
	t.Helper()
	e, err := bus.StartEmbedded(cfg)
	if err != nil {
		t.Fatalf("start embedded nats: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// EmbeddedBus returns a Bus on a new embedded server, closed at cleanup.
func EmbeddedBus(t testing.TB, opts ...bus.Options) *bus.Bus {
	t.Helper()
	e := Embedded(t)
	nc, err := e.Connect(t.Name())
	if err != nil {
		t.Fatalf("connect embedded nats: %v", err)
	}
	b, err := bus.New(nc, option(t, opts))
	if err != nil {
		t.Fatalf("new bus: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// ExternalBus returns a Bus on the server at EMPORIUM_TEST_NATS_URL, closed at
// cleanup. It fails the test when the variable is unset or the server is down.
func ExternalBus(t testing.TB, opts ...bus.Options) *bus.Bus {
	t.Helper()
	url := NATSURL()
	if url == "" {
		t.Fatalf("%s is not set", NATSURLEnv)
	}
	return Dial(t, url, opts...)
}

// Dial returns a Bus connected to url, closed at cleanup.
func Dial(t testing.TB, url string, opts ...bus.Options) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, url, t.Name(), option(t, opts))
	if err != nil {
		t.Fatalf("connect nats %s: %v", url, err)
	}
	t.Cleanup(b.Close)
	return b
}

func option(t testing.TB, opts []bus.Options) bus.Options {
	if len(opts) > 0 {
		return opts[0]
	}
	return bus.Options{Logger: Logger(t)}
}

// Stream is a stream made for one test.
type Stream struct {
	Name   string // e.g. T1A2B3C4D5
	Prefix string // its subjects' first token, e.g. t1a2b3c4d5
}

// Subject returns <prefix>.<entity>.<event>, a valid event type on the stream.
func (s Stream) Subject(entity, name string) string {
	return s.Prefix + "." + entity + "." + name
}

// NewStream creates a stream with a unique name taking <prefix>.>, deleted at
// cleanup. cfg's Name and Subjects are filled in.
func NewStream(t testing.TB, b *bus.Bus, cfg bus.StreamConfig) Stream {
	t.Helper()
	s := Stream{Prefix: "t" + Unique()}
	s.Name = strings.ToUpper(s.Prefix)
	cfg.Name, cfg.Subjects = s.Name, []string{s.Prefix + ".>"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.EnsureStream(ctx, cfg); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	t.Cleanup(func() {
		if !b.Conn().IsConnected() {
			return // the test's own server went away, and its store with it
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.JetStream().DeleteStream(ctx, s.Name); err != nil {
			t.Logf("delete stream %s: %v", s.Name, err)
		}
	})
	return s
}

// Unique returns 10 random lower-case hex digits, for names no other test uses.
func Unique() string {
	b := make([]byte, 5)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Eventually polls cond every 10ms until it holds, failing the test with msg
// when it does not within timeout.
var Eventually = testkit.Eventually

// Logger returns a logger that writes to the test's output while the test runs
// and drops lines logged after it ends (by goroutines still winding down).
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

// DeadLetter ensures the DEADLETTER stream and purges durable's dead letters
// from it at cleanup. The stream itself stays: other tests share it.
func DeadLetter(t testing.TB, b *bus.Bus, durable string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.EnsureDeadLetter(ctx, 0); err != nil {
		t.Fatalf("ensure dead letter: %v", err)
	}
	t.Cleanup(func() {
		if !b.Conn().IsConnected() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := b.JetStream().Stream(ctx, bus.DeadLetterStream)
		if err == nil {
			err = s.Purge(ctx, jetstream.WithPurgeSubject(bus.DeadLetterPrefix+durable+".>"))
		}
		if err != nil {
			t.Logf("purge dead letters of %s: %v", durable, err)
		}
	})
}

// Count returns how many messages stream holds on subjects matching filter.
func Count(t testing.TB, b *bus.Bus, stream, filter string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// Messages returns every message stream holds, in sequence order.
func Messages(t testing.TB, b *bus.Bus, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := b.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("stream %s get %d: %v", stream, seq, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// LastDeadLetter returns the newest dead letter on subject, failing the test
// when there is none.
func LastDeadLetter(t testing.TB, b *bus.Bus, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := b.JetStream().Stream(ctx, bus.DeadLetterStream)
	if err != nil {
		t.Fatalf("stream %s: %v", bus.DeadLetterStream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("dead letter on %s: %v", subject, err)
	}
	return m
}
