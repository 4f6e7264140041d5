package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// faults stands between the orders service and one of its peers and makes
// chosen calls fail as a crash or an outage would: before the call reaches
// the peer (the step never happened), or after the peer did it (the step
// happened, its answer was lost).
type faults struct {
	mu    sync.Mutex
	rules map[string]fault // by "METHOD path-suffix"
	hits  map[string]int
}

type fault int

const (
	failBefore fault = iota + 1 // answer 503 without calling the peer
	failAfter                   // call the peer, then answer 503
)

// faultProxy starts a proxy to target and returns it with its URL.
func faultProxy(t testing.TB, target string) (*faults, string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &faults{rules: map[string]fault{}, hits: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, name := f.match(r)
		switch rule {
		case failBefore:
			http.Error(w, "injected fault", http.StatusServiceUnavailable)
			return
		case failAfter:
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r)
			f.mu.Lock()
			f.hits[name]++
			f.mu.Unlock()
			http.Error(w, "injected fault after the call", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// set makes calls "METHOD suffix" fail as rule says; 0 lets them through.
func (f *faults) set(method, suffix string, rule fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rule == 0 {
		delete(f.rules, method+" "+suffix)
		return
	}
	f.rules[method+" "+suffix] = rule
}

// clear lets every call through.
func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = map[string]fault{}
}

// passed counts the calls matching "METHOD suffix" that reached the peer
// under failAfter.
func (f *faults) passed(method, suffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[method+" "+suffix]
}

func (f *faults) match(r *http.Request) (fault, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, rule := range f.rules {
		method, suffix, _ := strings.Cut(name, " ")
		if r.Method == method && strings.HasSuffix(r.URL.Path, suffix) {
			return rule, name
		}
	}
	return 0, ""
}
