package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// LOG_ACCESS_READS thins out successful reads only: writes, client errors
// and server errors keep their lines whatever it says.
func TestAccessLogReads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		reads       string
		okReads     int // access lines for 250 successful GETs
		sampleRates int // of which with "sample_rate": 100
	}{
		{"all", 250, 0},
		{"sample", 3, 3}, // the 1st, 101st and 201st
		{"none", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.reads, func(t *testing.T) {
			var reads AccessReads
			if err := reads.UnmarshalText([]byte(tt.reads)); err != nil {
				t.Fatal(err)
			}
			logger, logs := newTestLogger(slog.LevelInfo)
			rt := NewRouter()
			rt.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) error {
				return JSON(w, http.StatusOK, "thing")
			})
			rt.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) error {
				return JSON(w, http.StatusCreated, "thing")
			})
			h := Stack(rt, StackConfig{Logger: logger, AccessReads: reads})
			for range 250 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/things/1", nil))
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/things", nil))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nothing", nil))
			counts := map[string]int{}
			sampled := 0
			for _, l := range logs.find(t, "request") {
				counts[l["method"].(string)+" "+l["path"].(string)]++
				if l["sample_rate"] == float64(SampleRate) {
					sampled++
				}
			}
			if counts["GET /things/1"] != tt.okReads || sampled != tt.sampleRates {
				t.Errorf("%d lines for successful reads, %d sampled; want %d, %d",
					counts["GET /things/1"], sampled, tt.okReads, tt.sampleRates)
			}
			if counts["POST /things"] != 1 || counts["GET /nothing"] != 1 {
				t.Errorf("lines for a write and a 404: %d, %d; want 1 each",
					counts["POST /things"], counts["GET /nothing"])
			}
		})
	}
	var bad AccessReads
	if err := bad.UnmarshalText([]byte("some")); err == nil {
		t.Error(`"some" parsed as an AccessReads`)
	}
}

// BenchmarkAccessLog is the access log's own cost per request: a handler
// that writes nothing, behind AssignRequestID and AccessLog, logging JSON
// to io.Discard ("all") or thinning successful reads out ("none").
func BenchmarkAccessLog(b *testing.B) {
	nothing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	req := httptest.NewRequest("GET", "/api/v1/products/42", nil)
	req.Header.Set(RequestIDHeader, "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")
	w := httptest.NewRecorder()
	for _, reads := range []AccessReads{AccessReadsAll, AccessReadsNone} {
		b.Run(reads.String(), func(b *testing.B) {
			h := AssignRequestID(AccessLog(logger, reads)(nothing))
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
