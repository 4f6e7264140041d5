package redact

import (
	"cmp"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Error returns err with the secrets of s — the URL, list or connection
// string that err is about — masked in its message. When err's message shows
// none of them, Error returns err itself. Otherwise the error it returns
// wraps the first cause down err's chain whose message shows none, so that
// errors.Is still finds a refused connection or a deadline, but never
// anything that would print a secret.
func Error(err error, s string) error {
	if err == nil {
		return nil
	}
	_, found := scan(s)
	forms := secretForms(found)
	msg := err.Error()
	if !shows(msg, forms) {
		return err
	}
	cause := err
	for cause != nil && shows(cause.Error(), forms) {
		cause = errors.Unwrap(cause)
	}
	for _, f := range forms {
		msg = strings.ReplaceAll(msg, f, Mask)
	}
	return &redacted{msg: msg, cause: cause}
}

// redacted is an error whose message had secrets masked.
type redacted struct {
	msg   string
	cause error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.cause }

// secretForms returns every way the secrets may be spelled in a message: as
// written, unescaped, unquoted and Go-quoted (net/url's errors quote the
// URL), longest first so that a longer form is masked before a shorter one
// inside it.
func secretForms(secrets []string) []string {
	var forms []string
	for _, s := range secrets {
		unquoted := strings.Trim(s, "'")
		for _, f := range []string{s, unquoted, unescape(s), unescape(unquoted)} {
			quoted := strconv.Quote(f)
			forms = append(forms, f, quoted[1:len(quoted)-1])
		}
	}
	forms = slices.DeleteFunc(forms, func(f string) bool { return f == "" })
	slices.SortFunc(forms, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	return slices.Compact(forms)
}

func shows(msg string, forms []string) bool {
	for _, f := range forms {
		if strings.Contains(msg, f) {
			return true
		}
	}
	return false
}

// unescape undoes URL escaping, %XX and + alike, leaving s as it is when it
// is not validly escaped.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
