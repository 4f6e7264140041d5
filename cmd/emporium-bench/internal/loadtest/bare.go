package loadtest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// maxBareBody bounds the answers the bare server makes.
const maxBareBody = 1 << 20

// BareHandler is the bound a shop is measured against: a plain net/http
// handler that reads the request's body and answers 200 with a JSON body of
// the size asked for in the query (?size=N bytes, 2 at least), whatever the
// method and path. Bodies are made once per size.
func BareHandler() http.Handler {
	var bodies sync.Map // size → []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil || n < 2 || n > maxBareBody {
			n = 2
		}
		b, ok := bodies.Load(n)
		if !ok {
			b, _ = bodies.LoadOrStore(n, jsonOfSize(n))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(b.([]byte))
	})
}

// jsonOfSize returns a JSON object of exactly n bytes (n ≥ 2).
func jsonOfSize(n int) []byte {
	const open, closing = `{"pad":"`, `"}`
	if n < len(open)+len(closing) {
		return []byte("{}" + strings.Repeat(" ", n-2))
	}
	return []byte(open + strings.Repeat("x", n-len(open)-len(closing)) + closing)
}
