package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

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
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are skipped, never parsed (1e400 is no error here)
	w := nameWalker{dec: dec}
	err := w.value(dst, "")
	if w.broken {
		return nil
	}
	return err
}

// nameWalker reads one JSON value at a time from dec. broken records that
// the body itself is not valid JSON, which is the decoder's to report.
type nameWalker struct {
	dec    *json.Decoder
	broken bool
}

func (w *nameWalker) token() (json.Token, bool) {
	tok, err := w.dec.Token()
	if err != nil {
		w.broken = true
		return nil, false
	}
	return tok, true
}

// value checks the next value, which is decoded into a t (nil when unknown),
// at path (empty, or a prefix ending in a dot).
func (w *nameWalker) value(t reflect.Type, path string) error {
	tok, ok := w.token()
	if !ok {
		return nil
	}
	switch tok {
	case json.Delim('{'):
		return w.object(shapeOf(t), path)
	case json.Delim('['):
		var elem reflect.Type
		if t = shapeOf(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for w.dec.More() {
			if err := w.value(elem, path); err != nil || w.broken {
				return err
			}
		}
		w.token() // ]
	}
	return nil
}

func (w *nameWalker) object(t reflect.Type, path string) error {
	seen := make(map[string]bool)
	for w.dec.More() {
		tok, ok := w.token()
		if !ok {
			return nil
		}
		name, _ := tok.(string)
		if seen[name] {
			return errs.Invalidf(path+name, "appears more than once")
		}
		seen[name] = true
		var sub reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Struct:
			f, ok := jsonFields(t).lookup(name)
			if ok && f.name != name {
				return errs.Invalidf(path+f.name,
					"field names are case-sensitive; did you mean %s?", f.name)
			}
			sub = f.typ
		case t.Kind() == reflect.Map:
			sub = t.Elem()
		}
		if err := w.value(sub, path+name+"."); err != nil || w.broken {
			return err
		}
	}
	w.token() // }
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
func (s *fieldSet) lookup(name string) (field, bool) {
	if f, ok := s.byName[name]; ok {
		return f, true
	}
	for _, n := range s.names {
		if strings.EqualFold(n, name) {
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
