package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"emporium/internal/platform/errs"
)

// checkNames enforces the two rules on member names that encoding/json does
// not: a name is matched to a struct field case-sensitively ({"EMAIL":…}
// does not fill email), and no object repeats a name ({"email":…,"email":…}
// does not let the last one silently win). It walks body in document order
// beside dst's type and returns the first breach as a 422 naming the field
// by its dotted path, so the answer is the same on every run.
//
// Duplicates are refused in every object, map values and values that decode
// themselves included; case is checked only where a struct field is meant,
// since map keys may differ only in case. Names that match no field at all
// are left to the decoder's unknown-field error. A body that is not valid
// JSON passes here and is refused by the decoder.
func checkNames(body []byte, dst reflect.Type) error {
	w := nameWalker{b: body}
	err := w.value(dst)
	if w.broken {
		return nil
	}
	return err
}

// nameWalker reads b, one JSON value after another. It runs only on a body
// the decoder accepted, so it skips what it does not check (strings,
// numbers, literals) without validating it; broken records that b was not
// valid JSON after all, which is the decoder's to report.
type nameWalker struct {
	b      []byte
	i      int
	path   [][]byte // the names of the members the walk is in
	broken bool
}

func (w *nameWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// next skips white space and reports the next byte (0 at the end).
func (w *nameWalker) next() byte {
	w.space()
	if w.i >= len(w.b) {
		w.broken = true
		return 0
	}
	return w.b[w.i]
}

// str reads a string and returns its value, aliasing b when it has no
// escapes and is valid UTF-8.
func (w *nameWalker) str() []byte {
	start := w.i
	w.i++ // "
	escaped := false
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case '\\':
			escaped = true
			w.i += 2
			continue
		case '"':
			w.i++
			// Invalid UTF-8 is read as U+FFFD, as the decoder reads it.
			if raw := w.b[start+1 : w.i-1]; !escaped && utf8.Valid(raw) {
				return raw
			}
			var v string
			if json.Unmarshal(w.b[start:w.i], &v) != nil {
				w.broken = true
			}
			return []byte(v)
		}
		w.i++
	}
	w.broken = true
	return nil
}

// value checks the next value, which is decoded into a t (nil when unknown).
func (w *nameWalker) value(t reflect.Type) error {
	switch w.next() {
	case '{':
		w.i++
		return w.object(shapeOf(t))
	case '[':
		w.i++
		var elem reflect.Type
		if t = shapeOf(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		if w.next() == ']' {
			w.i++
			return nil
		}
		for !w.broken {
			if err := w.value(elem); err != nil {
				return err
			}
			switch w.next() {
			case ',':
				w.i++
			case ']':
				w.i++
				return nil
			default:
				w.broken = true
			}
		}
	case '"':
		w.str()
	case 0:
	default: // a number, true, false or null
		for w.i < len(w.b) && !strings.ContainsRune(",]} \t\n\r", rune(w.b[w.i])) {
			w.i++
		}
	}
	return nil
}

// dotted is the field path of name in the member the walk is in.
func (w *nameWalker) dotted(name string) string {
	var b strings.Builder
	for _, p := range w.path {
		b.Write(p)
		b.WriteByte('.')
	}
	b.WriteString(name)
	return b.String()
}

// manyNames is the size past which an object's names are looked up in a map
// rather than a list, so a huge object costs linear time.
const manyNames = 16

func (w *nameWalker) object(t reflect.Type) error {
	if w.next() == '}' {
		w.i++
		return nil
	}
	var list [manyNames][]byte
	names := list[:0]
	var fields *fieldSet
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	}
	var seen map[string]bool
	for !w.broken {
		if w.next() != '"' {
			w.broken = true
			return nil
		}
		name := w.str()
		if seen[string(name)] || slices.ContainsFunc(names, func(n []byte) bool {
			return bytes.Equal(n, name)
		}) {
			return errs.Invalidf(w.dotted(string(name)), "appears more than once")
		}
		switch {
		case seen != nil:
			seen[string(name)] = true
		case len(names) < manyNames:
			names = append(names, name)
		default:
			seen = make(map[string]bool)
			for _, n := range names {
				seen[string(n)] = true
			}
			seen[string(name)] = true
		}
		var sub reflect.Type
		switch {
		case fields != nil:
			f, ok := fields.lookup(name)
			if ok && f.name != string(name) {
				return errs.Invalidf(w.dotted(f.name),
					"field names are case-sensitive; did you mean %s?", f.name)
			}
			sub = f.typ
		case t != nil && t.Kind() == reflect.Map:
			sub = t.Elem()
		}
		if w.next() != ':' {
			w.broken = true
			return nil
		}
		w.i++
		w.path = append(w.path, name)
		err := w.value(sub)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		switch w.next() {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			w.broken = true
		}
	}
	return nil
}

// shapeOf returns the type whose JSON shape (object members, array elements)
// a value decoded into t has: t through pointers and Optionals, or nil when
// that is not known here — an interface, or a type that decodes itself.
func shapeOf(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	t = throughOptionals(t)
	if t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

// field is a struct field as encoding/json names it.
type field struct {
	name string
	typ  reflect.Type
}

// fieldSet is a struct type's fields by JSON name, and the names sorted.
type fieldSet struct {
	byName map[string]field
	names  []string
}

// lookup returns the field named name exactly, or else the first (in sorted
// order) whose name differs only in case, which encoding/json would fill; it
// reports false when name matches no field.
func (s *fieldSet) lookup(name []byte) (field, bool) {
	if f, ok := s.byName[string(name)]; ok {
		return f, true
	}
	for _, n := range s.names {
		if strings.EqualFold(n, string(name)) {
			return s.byName[n], true
		}
	}
	return field{}, false
}

var fieldSets sync.Map // reflect.Type → *fieldSet

// jsonFields returns the fields encoding/json decodes into for struct type
// t: by tag name or Go name, skipping "-" and unexported fields, with the
// fields of embedded structs promoted unless a shallower field has the name.
func jsonFields(t reflect.Type) *fieldSet {
	if s, ok := fieldSets.Load(t); ok {
		return s.(*fieldSet)
	}
	s := make(map[string]field)
	level := []reflect.Type{t}
	visited := map[reflect.Type]bool{}
	for len(level) > 0 {
		var next []reflect.Type
		found := make(map[string]field) // this depth's names; shallower ones win
		for _, st := range level {
			if visited[st] {
				continue
			}
			visited[st] = true
			for i := range st.NumField() {
				f := st.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
					next = append(next, ft)
					continue
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if _, ok := s[name]; !ok {
					if _, ok := found[name]; !ok {
						found[name] = field{name: name, typ: f.Type}
					}
				}
			}
		}
		for n, f := range found {
			s[n] = f
		}
		level = next
	}
	set := &fieldSet{byName: s, names: slices.Sorted(maps.Keys(s))}
	fieldSets.Store(t, set)
	return set
}
