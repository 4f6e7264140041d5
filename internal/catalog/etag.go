package catalog

import (
	"strings"

	"emporium/internal/platform/web"
)

// etagMatchesVersion reports whether an If-Match value names version, or is
// "*". Our ETags are "<version>-<available>", and only the version counts for
// edits: a change of stock alone does not make an edit stale. The comparison
// is otherwise RFC 9110's strong one: a weak tag (W/"...") never matches.
func etagMatchesVersion(ifMatch string, version int64) bool {
	if ifMatch == "*" {
		return true
	}
	for _, tag := range web.SplitETags(ifMatch) {
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue // weak, or not an entity tag
		}
		if v, _, ok := strings.Cut(tag[1:len(tag)-1], "-"); ok && v == itoa(version) {
			return true
		}
	}
	return false
}
