package web

import (
	"net/http/httptest"
	"testing"

	"emporium/internal/platform/errs"
)

func TestPageFrom(t *testing.T) {
	type key struct {
		ID string `json:"id"`
	}
	good := Cursor(key{ID: "u1"})
	tests := []struct {
		query     string
		wantLimit int
		wantField string // "" for no error
	}{
		{"", 20, ""},
		{"limit=1", 1, ""},
		{"limit=100", 100, ""},
		{"limit=0", 0, "limit"},
		{"limit=101", 0, "limit"},
		{"limit=ten", 0, "limit"},
		{"cursor=" + good, 20, ""},
		{"cursor=!!!", 0, "cursor"},
		{"cursor=e30", 20, ""}, // "{}" decodes, but not into key with an id: After rejects it below
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p, err := PageFrom(httptest.NewRequest("GET", "/x?"+tt.query, nil))
			if got := fieldOf(err); got != tt.wantField {
				t.Fatalf("error field = %q (%v), want %q", got, err, tt.wantField)
			}
			if err == nil && p.Limit != tt.wantLimit {
				t.Errorf("limit = %d, want %d", p.Limit, tt.wantLimit)
			}
		})
	}

	p, _ := PageFrom(httptest.NewRequest("GET", "/x?cursor="+good, nil))
	var k key
	if ok, err := p.After(&k); !ok || err != nil || k.ID != "u1" {
		t.Errorf("After = %v, %v, %+v; want the cursor's key back", ok, err, k)
	}
	p, _ = PageFrom(httptest.NewRequest("GET", "/x?cursor="+Cursor(map[string]int{"other": 1}), nil))
	if _, err := p.After(&k); fieldOf(err) != "cursor" {
		t.Errorf("foreign cursor: got %v, want a cursor field error", err)
	}
}

func TestNewList(t *testing.T) {
	items := []string{"a", "b", "c"}
	l := NewList(items, 2, func(s string) any { return s })
	if len(l.Items) != 2 || l.NextCursor != Cursor("b") {
		t.Errorf("got %+v, want 2 items and a cursor after b", l)
	}
	l = NewList(items[:2], 2, func(s string) any { return s })
	if len(l.Items) != 2 || l.NextCursor != "" {
		t.Errorf("last page: got %+v, want no cursor", l)
	}
	if l := NewList[string](nil, 2, nil); l.Items == nil {
		t.Error("empty list: Items is nil, want [] in JSON")
	}
}

func fieldOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*errs.Error); ok && len(e.Fields) > 0 {
		return e.Fields[0].Field
	}
	return "?"
}
