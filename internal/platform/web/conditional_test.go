package web

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestETagMatches(t *testing.T) {
	for _, c := range []struct {
		header, etag string
		want         bool
	}{
		{`"a"`, `"a"`, true},
		{`W/"a"`, `"a"`, true},
		{`"b", "a"`, `"a"`, true},
		{`*`, `"a"`, true},
		{`"b"`, `"a"`, false},
		{``, `"a"`, false},
		{`"a`, `"a"`, false},
	} {
		if got := ETagMatches(c.header, c.etag); got != c.want {
			t.Errorf("ETagMatches(%q, %q) = %v, want %v", c.header, c.etag, got, c.want)
		}
	}
}

func TestPreferredWait(t *testing.T) {
	for _, c := range []struct {
		headers []string
		want    time.Duration
	}{
		{nil, 0},
		{[]string{"wait=5"}, 5 * time.Second},
		{[]string{"respond-async, wait=3"}, 3 * time.Second},
		{[]string{"return=minimal", "WAIT = 2"}, 2 * time.Second},
		{[]string{`wait="4"`}, 4 * time.Second},
		{[]string{"wait=100"}, 10 * time.Second}, // the limit
		{[]string{"wait=0"}, 0},
		{[]string{"wait=-1"}, 0},
		{[]string{"wait=soon"}, 0},
		{[]string{"wait"}, 0},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		for _, h := range c.headers {
			r.Header.Add("Prefer", h)
		}
		if got := PreferredWait(r, 10*time.Second); got != c.want {
			t.Errorf("Prefer %q: %s, want %s", c.headers, got, c.want)
		}
	}
}
