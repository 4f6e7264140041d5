package web

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
)

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	optionalType    = reflect.TypeFor[optional]()
)

// unknownFieldPath finds where in body the unknown field name (all that
// encoding/json reports) sits for a value of type t, and returns its dotted
// JSON path ("shipping_address.zip"), the same form encoding/json uses for
// fields of the wrong type. It falls back to name alone.
func unknownFieldPath(body []byte, t reflect.Type, name string) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return name
	}
	if path, ok := findUnknown(v, t, "", name); ok {
		return path
	}
	return name
}

func findUnknown(v any, t reflect.Type, prefix, name string) (string, bool) {
	t = throughOptionals(t)
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return "", false // decodes itself; DisallowUnknownFields does not reach inside
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			var sub reflect.Type
			switch t.Kind() {
			case reflect.Struct:
				f, ok := jsonField(t, k)
				if !ok {
					if k == name {
						return prefix + k, true
					}
					continue
				}
				sub = f
			case reflect.Map:
				sub = t.Elem()
			default:
				return "", false
			}
			if path, ok := findUnknown(v[k], sub, prefix+k+".", name); ok {
				return path, true
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return "", false
		}
		for _, e := range v {
			if path, ok := findUnknown(e, t.Elem(), prefix, name); ok {
				return path, true
			}
		}
	}
	return "", false
}

// jsonField returns the type of t's field that encoding/json decodes key
// into: by tag or field name, exact match first, then case-insensitive, and
// looking into embedded structs.
func jsonField(t reflect.Type, key string) (reflect.Type, bool) {
	f, ok := jsonFields(t).lookup([]byte(key))
	return f.typ, ok
}

// throughOptionals returns the type a value of type t is decoded as, looking
// through pointers and through Optional, which decodes its Value as strictly
// as Decode does.
func throughOptionals(t reflect.Type) reflect.Type {
	for {
		switch {
		case t.Kind() == reflect.Pointer:
			t = t.Elem()
		case t.Implements(optionalType):
			t = reflect.Zero(t).Interface().(optional).valueType()
		default:
			return t
		}
	}
}
