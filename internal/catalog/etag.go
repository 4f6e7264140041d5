package catalog

import "strings"

// splitETags splits an If-Match or If-None-Match value into its entity tags.
func splitETags(h string) []string {
	var tags []string
	for _, t := range strings.Split(h, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}

// etagMatches reports whether an If-None-Match value names etag (or is "*"),
// by RFC 9110's weak comparison: W/"1-5" names "1-5".
func etagMatches(ifNoneMatch, etag string) bool {
	for _, t := range splitETags(ifNoneMatch) {
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// etagMatchesVersion reports whether an If-Match value names version, or is
// "*". Our ETags are "<version>-<available>", and only the version counts for
// edits: a change of stock alone does not make an edit stale. The comparison
// is otherwise RFC 9110's strong one: a weak tag (W/"...") never matches.
func etagMatchesVersion(ifMatch string, version int64) bool {
	if ifMatch == "*" {
		return true
	}
	for _, tag := range splitETags(ifMatch) {
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue // weak, or not an entity tag
		}
		if v, _, ok := strings.Cut(tag[1:len(tag)-1], "-"); ok && v == itoa(version) {
			return true
		}
	}
	return false
}
