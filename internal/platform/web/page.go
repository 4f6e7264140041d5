package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"emporium/internal/platform/errs"
)

// Page limits of API.md: ?limit= defaults to 20 and must lie in 1–100.
const (
	DefaultPageLimit = 20
	MaxPageLimit     = 100
)

// Page is a list request's window: how many items, and after which cursor.
type Page struct {
	Limit  int
	cursor string
}

// PageFrom reads ?limit= and ?cursor= from r. A limit outside 1–100 or a
// cursor that is not one of ours is a 422 naming the parameter.
func PageFrom(r *http.Request) (Page, error) {
	p := Page{Limit: DefaultPageLimit, cursor: r.URL.Query().Get("cursor")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageLimit {
			return Page{}, errs.Invalidf("limit", "must be an integer from 1 to %d", MaxPageLimit)
		}
		p.Limit = n
	}
	if p.cursor != "" {
		if _, err := base64.RawURLEncoding.DecodeString(p.cursor); err != nil {
			return Page{}, errInvalidCursor
		}
	}
	return p, nil
}

var errInvalidCursor = errs.Invalidf("cursor", "is not a cursor this list returned")

// After decodes the cursor into v (the sort keys of the last item seen) and
// reports whether there was one. A cursor that does not decode into v is a 422.
func (p Page) After(v any) (bool, error) {
	if p.cursor == "" {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.cursor)
	if err != nil {
		return false, errInvalidCursor
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false, errInvalidCursor
	}
	return true, nil
}

// Cursor encodes v (the sort keys of a page's last item) as an opaque cursor.
func Cursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("web: cursor: " + err.Error()) // sort keys are plain values
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// List is the shape of every list response.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// NewList makes a list answer from up to limit+1 items fetched: when there is
// one more than limit, the page is cut there and the cursor points after its
// last item, as key returns it.
func NewList[T any](items []T, limit int, key func(T) any) List[T] {
	l := List[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(items) > limit {
		l.Items = items[:limit]
		l.NextCursor = Cursor(key(items[limit-1]))
	}
	return l
}
