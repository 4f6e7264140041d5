package main

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// readBenchClient keeps one connection per client of the 64.
var readBenchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	Timeout: 30 * time.Second}

// BenchmarkProductRead64 reads demo products by id through the all-in-one's
// front door from 64 closed-loop clients, with a warm cache: the read path
// issue 13 measures. Run it with
// go test -run '^$' -bench ProductRead64 -benchtime 20000x ./cmd/emporium
func BenchmarkProductRead64(b *testing.B) {
	base := benchShop(b)
	ids := demoProducts(b, base)
	for _, id := range ids { // warm the cache
		if err := benchSend("GET", base+"/api/v1/products/"+id, "", nil, nil, http.StatusOK); err != nil {
			b.Fatal(err)
		}
	}
	measureClients(b, 64, func(c, n int) error {
		res, err := readBenchClient.Get(base + "/api/v1/products/" + ids[(c+n)%len(ids)])
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return &statusError{res.StatusCode}
		}
		return nil
	})
}

// statusError is an answer the benchmark did not expect.
type statusError struct{ status int }

func (e *statusError) Error() string { return "status " + http.StatusText(e.status) }
