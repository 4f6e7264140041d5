package observability

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// DefaultFlushInterval is how long a line may wait in a BufferedWriter.
const DefaultFlushInterval = 200 * time.Millisecond

// bufferSize holds a few hundred log lines between flushes.
const bufferSize = 64 << 10

// BufferedWriter collects log lines in memory and writes them out in
// batches: when its buffer is full, every flush interval, and on Close — so
// a log line costs a copy, not a write system call, and nothing is lost on a
// clean shutdown. It is safe for concurrent use.
type BufferedWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewBufferedWriter returns a BufferedWriter over w that flushes every
// interval (DefaultFlushInterval when zero or less). Close it to flush what
// is left and stop its flusher.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	b := &BufferedWriter{buf: bufio.NewWriterSize(w, bufferSize),
		stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushEvery(interval)
	return b
}

// Write adds p to the buffer, writing the buffer out first if p does not fit.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Flush writes out what is buffered.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Flush()
}

// Close stops the periodic flush and writes out what is buffered. Lines
// written after Close are still buffered, and written out by a later Flush
// or a full buffer.
func (b *BufferedWriter) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
		<-b.done
	}
	return b.Flush()
}

func (b *BufferedWriter) flushEvery(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_ = b.Flush()
		}
	}
}
