package openapitest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing the test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

// errFatal is what recorder.Fatalf panics with, standing in for FailNow.
var errFatal = fmt.Errorf("fatal")

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(errFatal)
}

// failures returns what was recorded so far.
func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// loadFile loads a document from a file, failing t on any error.
func loadFile(t testing.TB, path string) (*Document, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Load(raw)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return doc, raw
}

// checkErr compares err with a wanted substring; want "" means no error.
func checkErr(t testing.TB, name string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error: %v", name, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want one containing %q", name, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", name, err, want)
	}
}
