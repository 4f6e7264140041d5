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

// cutETag reads one of our entity tags, "<version>-<available>", weak or not.
func cutETag(tag string) (version, available string, ok bool) {
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return "", "", false
	}
	return strings.Cut(tag[1:len(tag)-1], "-")
}

// etagMatches reports whether an If-None-Match value names etag (or is "*").
func etagMatches(ifNoneMatch, etag string) bool {
	for _, t := range splitETags(ifNoneMatch) {
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
