package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SplitETags splits an If-Match or If-None-Match value into its entity tags.
func SplitETags(h string) []string {
	var tags []string
	for t := range strings.SplitSeq(h, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// ETagMatches reports whether an If-None-Match value names etag (or is "*"),
// by RFC 9110's weak comparison: W/"1-5" names "1-5".
func ETagMatches(ifNoneMatch, etag string) bool {
	for _, t := range SplitETags(ifNoneMatch) {
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// PreferredWait is the wait a request asks for with RFC 7240's preference
// "Prefer: wait=<seconds>", bounded by limit; 0 when it asks for none, or
// names it in a way that is not a whole number of seconds (a preference
// that cannot be read is ignored, as RFC 7240 says).
func PreferredWait(r *http.Request, limit time.Duration) time.Duration {
	for _, h := range r.Header.Values("Prefer") {
		for pref := range strings.SplitSeq(h, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(pref), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			value, _, _ = strings.Cut(value, ";") // no parameters are defined for wait
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`))
			if err != nil || n <= 0 {
				return 0
			}
			return min(time.Duration(n)*time.Second, limit)
		}
	}
	return 0
}
