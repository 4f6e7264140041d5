package httpclient

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// idempotent reports whether a request may be sent more than once: the
// methods HTTP defines as idempotent, and a POST or PATCH with an
// Idempotency-Key, which the downstream deduplicates.
func idempotent(method string, h http.Header) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete,
		http.MethodOptions:
		return true
	case http.MethodPost, http.MethodPatch:
		return h.Get("Idempotency-Key") != ""
	}
	return false
}

// retryableStatus reports whether an answer with this status may succeed if
// asked again: gateway trouble, overload, rate limiting.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout,
		http.StatusTooManyRequests:
		return true
	}
	return false
}

// parseRetryAfter reads a Retry-After header, either delay-seconds or an
// HTTP date, as a duration from now. It reports false when the header is
// absent or malformed.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, 1<<31)) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}
