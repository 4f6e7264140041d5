package app

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestReadOnlyMapping(t *testing.T) {
	const exe = "/usr/bin/emporium"
	for _, tc := range []struct {
		line   string
		lo, hi uintptr
		ok     bool
	}{
		{"00400000-01da1000 r-xp 00000000 fe:00 99 /usr/bin/emporium", 0x400000, 0x1da1000, true},
		{"01da1000-03a24000 r--p 019a1000 fe:00 99 /usr/bin/emporium", 0x1da1000, 0x3a24000, true},
		{"03a24000-03b31000 rw-p 03624000 fe:00 99 /usr/bin/emporium", 0, 0, false}, // writable: the process's own changes
		{"7f8286b10000-7f8286c10000 r--p 00000000 00:00 0", 0, 0, false},            // anonymous
		{"7f82cde36000-7f82cdea8000 r-xp 00000000 fe:00 12 /usr/lib/libc.so.6", 0, 0, false},
		{"zz-03a24000 r--p 0 fe:00 99 /usr/bin/emporium", 0, 0, false},
		{"03a24000-01da1000 r--p 0 fe:00 99 /usr/bin/emporium", 0, 0, false},
	} {
		lo, hi, ok := readOnlyMapping(tc.line, exe)
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("readOnlyMapping(%q) = %#x, %#x, %v; want %#x, %#x, %v", tc.line, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

// The test binary has touched much of itself starting up; releasing the
// pages lowers its resident file pages, and it goes on running.
func TestReleaseExecutablePages(t *testing.T) {
	before := rssFileKiB(t)
	n, err := ReleaseExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	if n <= 0 || after >= before {
		t.Fatalf("released %d bytes: RssFile %d KiB before, %d KiB after", n, before, after)
	}
	t.Logf("released %d MiB of mappings: RssFile %d → %d KiB", n>>20, before, after)
}

func rssFileKiB(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kib
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
