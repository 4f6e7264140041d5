package web

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Optional is a field of a PATCH body: Set when the body names it, Null when
// its value is null, Value otherwise. Absent fields stay as they are.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records that the field was present and decodes its value as
// strictly as Decode does the body: an unknown field inside the value is an
// error, which Decode reports as a 422 naming it ("price.bogus"), as it does a
// value of the wrong JSON type.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&o.Value)
}

// IsNull reports whether the body set the field to null.
func (o Optional[T]) IsNull() bool { return o.Null }

// valueType is the type of Value, for Decode's unknown-field paths.
func (Optional[T]) valueType() reflect.Type { return reflect.TypeFor[T]() }

// optional is implemented by every Optional[T].
type optional interface{ valueType() reflect.Type }
