package web

import (
	"net/http"
)

// StatusRecorder is a ResponseWriter that remembers the status and the number
// of body bytes written, for the logging, metrics and tracing middleware. It
// supports http.ResponseController through Unwrap.
type StatusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// Record returns w as a *StatusRecorder: w itself when it already is one (so
// the middleware of one stack share a single wrapper), a new one otherwise.
func Record(w http.ResponseWriter) *StatusRecorder {
	if rec, ok := w.(*StatusRecorder); ok {
		return rec
	}
	return &StatusRecorder{ResponseWriter: w}
}

// WriteHeader records the status and sends it. Informational (1xx) statuses
// other than 101 do not count as the response's status.
func (w *StatusRecorder) WriteHeader(status int) {
	if w.status == 0 && (status >= 200 || status == http.StatusSwitchingProtocols) {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write sends b, recording an implicit 200 if no status was written.
func (w *StatusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends what is buffered, when the underlying writer can.
func (w *StatusRecorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *StatusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Started reports whether the response status has been sent, after which an
// error can no longer be answered with a problem.
func (w *StatusRecorder) Started() bool { return w.status != 0 }

// Status returns the response status: what was written, 200 when only a body
// was, and 0 while nothing was.
func (w *StatusRecorder) Status() int { return w.status }

// Bytes returns the number of body bytes written.
func (w *StatusRecorder) Bytes() int64 { return w.bytes }
