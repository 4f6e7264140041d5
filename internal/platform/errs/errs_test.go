package errs

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

var errSentinel = New(Conflict, "thing_taken", "the thing is taken")

func TestKindsThroughWrapping(t *testing.T) {
	wrapped := fmt.Errorf("create thing: %w", errSentinel)
	if !errors.Is(wrapped, errSentinel) || KindOf(wrapped) != Conflict {
		t.Errorf("wrapped sentinel: Is %v, kind %v", errors.Is(wrapped, errSentinel), KindOf(wrapped))
	}
	withLines := errSentinel.With(map[string]any{"lines": []int{1}})
	if !errors.Is(withLines, errSentinel) || withLines.Extra["lines"] == nil || errSentinel.Extra != nil {
		t.Errorf("With: %+v (sentinel %+v)", withLines, errSentinel)
	}
	if KindOf(errors.New("plain")) != Other || KindOf(nil) != Other {
		t.Error("an error without a kind is not Other")
	}
	cause := errors.New("disk on fire")
	e := E(Unavailable, "", "storage is down", cause)
	if !errors.Is(e, cause) || e.Error() != "storage is down: disk on fire" {
		t.Errorf("E: %v", e)
	}
}

func TestValidation(t *testing.T) {
	var v Validation
	if v.Err() != nil {
		t.Fatal("an empty validation is an error")
	}
	v.Check(true, "a", "fine")
	v.Check(false, "b", "is bad")
	v.Add("c.d", "is worse")
	var e *Error
	if !errors.As(v.Err(), &e) || e.Kind != Invalid || e.Code != "validation_failed" || len(e.Fields) != 2 ||
		e.Fields[0] != (FieldError{"b", "is bad"}) || e.Fields[1].Field != "c.d" {
		t.Errorf("validation error = %+v", e)
	}
	if KindOf(Invalidf("limit", "must be %d to %d", 1, 100)) != Invalid {
		t.Error("Invalidf is not Invalid")
	}
}

func TestKindString(t *testing.T) {
	if Conflict.String() != "conflict" || Kind(99).String() != "kind(99)" {
		t.Errorf("%s %s", Conflict, Kind(99))
	}
}

// TestValidationKeepsOrder: the fields come back in the order they were
// added, on every run, not sorted.
func TestValidationKeepsOrder(t *testing.T) {
	want := []string{"email", "password", "name", "address.city", "address.country"}
	for range 20 {
		var v Validation
		for _, f := range want {
			v.Add(f, "is bad")
		}
		var e *Error
		if !errors.As(v.Err(), &e) {
			t.Fatal("no validation error")
		}
		var got []string
		for _, f := range e.Fields {
			got = append(got, f.Field)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("fields %q, want %q", got, want)
		}
	}
}
