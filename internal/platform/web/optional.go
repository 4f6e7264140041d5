package web

import "encoding/json"

// Optional is a field of a PATCH body: Set when the body names it, Null when
// its value is null, Value otherwise. Absent fields stay as they are.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records that the field was present. A value of the wrong JSON
// type is reported by Decode as a 422 naming the field.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// IsNull reports whether the body set the field to null.
func (o Optional[T]) IsNull() bool { return o.Null }
