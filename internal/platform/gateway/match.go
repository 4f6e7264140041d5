package gateway

import (
	"net/http"
	"slices"
	"strings"
)

// matcher finds the route of a request with a clean path as http.ServeMux
// would, without allocating: an exact path beats every subtree that holds
// it, and the longest subtree wins. A nil handler is a proxied route.
type matcher struct {
	exact    map[string]http.Handler
	subtrees []subtree // longest prefix first
}

type subtree struct {
	prefix string
	h      http.Handler
}

func (m *matcher) add(path string, h http.Handler) {
	if strings.HasSuffix(path, "/") {
		m.subtrees = append(m.subtrees, subtree{path, h})
		slices.SortStableFunc(m.subtrees, func(a, b subtree) int { return len(b.prefix) - len(a.prefix) })
		return
	}
	if m.exact == nil {
		m.exact = map[string]http.Handler{}
	}
	m.exact[path] = h
}

// match returns r's route, and false when r is one to leave to
// http.ServeMux: a path to clean or redirect, a CONNECT, or no route.
func (m *matcher) match(r *http.Request) (http.Handler, bool) {
	p := r.URL.Path
	if r.Method == http.MethodConnect || !clean(p) {
		return nil, false
	}
	if h, ok := m.exact[p]; ok {
		return h, true
	}
	for _, s := range m.subtrees {
		if strings.HasPrefix(p, s.prefix) {
			return s.h, true
		}
	}
	return nil, false
}

// clean reports whether p is a rooted path that path.Clean leaves as it is,
// apart from a trailing slash: no empty, "." or ".." segment.
func clean(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") &&
		!strings.Contains(p, "/../") && !strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}
