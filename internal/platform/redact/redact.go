// Package redact hides the secrets in connection strings before they reach a
// log line or an error message: the password of a URL's user, the value of
// every query parameter whose name suggests a secret (password, token, key,
// …), the lone user of a NATS URL (which NATS takes as a token), and the
// same in each server of a comma-separated list such as NATS_URL's.
//
// It works on the text rather than on a parsed net/url.URL, so that a URL too
// broken to parse — exactly the one an error message is about — is redacted
// too, and what is not secret is kept byte for byte.
package redact

import (
	"regexp"
	"strings"
)

// Mask is what replaces each secret.
const Mask = "*****"

// URL returns s, a URL, a comma-separated list of URLs or a key=value
// connection string, with every secret replaced by Mask. It never fails:
// text that is not a valid URL is redacted as well as it can be, erring on
// the side of hiding more.
func URL(s string) string {
	out, _ := scan(s)
	return out
}

// scan redacts s and returns the secrets it hid, as they appear in s.
func scan(s string) (string, []string) {
	var b strings.Builder
	var secrets []string
	for i, el := range elements(s) {
		if i > 0 {
			b.WriteByte(',')
		}
		out, found := element(el)
		b.WriteString(out)
		secrets = append(secrets, found...)
	}
	return b.String(), secrets
}

// elements splits s at the commas that separate servers. A comma is taken to
// belong to the element before it when that element is in its query, is a
// key=value string, or has a scheme and no user yet while the text after the
// comma has one: a comma in a password or a parameter value must not expose
// what follows it.
func elements(s string) []string {
	var els []string
	start := 0
	var inQuery, keyValue, awaitsUser bool
	for i := 0; ; {
		end := len(s)
		if j := strings.IndexByte(s[i:], ','); j >= 0 {
			end = i + j
		}
		p := s[i:end]
		switch {
		case i == start || hasScheme(p) ||
			!inQuery && !keyValue && !(awaitsUser && hasUser(p)):
			if i != start {
				els = append(els, s[start:i-1])
				start = i
			}
			keyValue = isKeyValue(p)
			awaitsUser = hasScheme(p) && !hasUser(p[schemeEnd(p):])
			inQuery = false
		case awaitsUser && hasUser(p):
			awaitsUser = false
		}
		if strings.Contains(p, "?") {
			inQuery, awaitsUser = true, false
		}
		if end == len(s) {
			break
		}
		i = end + 1
	}
	return append(els, s[start:])
}

// hasUser reports whether s, a URL without its scheme, has an @ before its
// query.
func hasUser(s string) bool {
	head, _, _ := strings.Cut(s, "?")
	return strings.Contains(head, "@")
}

// element redacts one URL (or key=value string) and returns the secrets it hid.
func element(el string) (string, []string) {
	if isKeyValue(el) {
		return params(el)
	}
	var secrets []string
	start, scheme := 0, ""
	if end := schemeEnd(el); end >= 0 {
		start = end
		scheme = strings.ToLower(strings.TrimSpace(el[:end-len("://")]))
	}
	head, query, hasQuery := strings.Cut(el[start:], "?")
	// The user ends at the last @ before the query, as net/url has it; an
	// unescaped / in a password still ends up hidden.
	if at := strings.LastIndexByte(head, '@'); at >= 0 {
		user := head[:at]
		if name, pw, ok := strings.Cut(user, ":"); ok && pw != "" {
			secrets = append(secrets, pw)
			user = name + ":" + Mask
		} else if !ok && user != "" && loneUserIsSecret(scheme) {
			secrets = append(secrets, user)
			user = Mask
		}
		head = user + head[at:]
	}
	out := el[:start] + head
	if hasQuery {
		q, found := params(query)
		secrets = append(secrets, found...)
		out += "?" + q
	}
	return out, secrets
}

// loneUserIsSecret reports whether a user without a password is a credential
// in URLs of this scheme: NATS reads it as a token. Without a scheme, assume
// it may be.
func loneUserIsSecret(scheme string) bool {
	switch scheme {
	case "", "nats", "tls", "ws", "wss":
		return true
	}
	return false
}

// param matches one key=value pair of a query or of a key=value connection
// string; a value may be single-quoted, as in PostgreSQL's.
var param = regexp.MustCompile(`([^\s&=]+)(\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)`)

// params masks the values of the secret-looking parameters in s.
func params(s string) (string, []string) {
	var secrets []string
	out := param.ReplaceAllStringFunc(s, func(m string) string {
		sub := param.FindStringSubmatch(m)
		key, eq, value := sub[1], sub[2], sub[3]
		if value == "" || !secretName(key) {
			return m
		}
		secrets = append(secrets, value)
		return key + eq + Mask
	})
	return out, secrets
}

// secretHints are the parts of a parameter name that make its value secret.
var secretHints = []string{"pass", "pwd", "token", "secret", "key", "credential", "auth",
	"sig"}

func secretName(key string) bool {
	key = strings.ToLower(unescape(key))
	for _, h := range secretHints {
		if strings.Contains(key, h) {
			return true
		}
	}
	return false
}

// schemeEnd returns the index just past the "://" that ends s's scheme, or
// -1 when s does not start with one.
func schemeEnd(s string) int {
	t := strings.TrimLeft(s, " \t")
	i := strings.Index(t, "://")
	if i <= 0 || !isScheme(t[:i]) {
		return -1
	}
	return len(s) - len(t) + i + len("://")
}

func hasScheme(s string) bool { return schemeEnd(s) >= 0 }

func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// keyValueStart matches the start of a key=value connection string
// ("host=db password=…").
var keyValueStart = regexp.MustCompile(`^\s*[A-Za-z_][\w.-]*\s*=`)

func isKeyValue(s string) bool { return !hasScheme(s) && keyValueStart.MatchString(s) }
