package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"emporium/internal/platform/errs"
)

// MaxBodyBytes is the largest request body Decode accepts (API.md: 1 MiB).
const MaxBodyBytes = 1 << 20

// Validator is implemented by request types that check their own fields after
// decoding, returning errs.Validation's error.
type Validator interface {
	Validate() error
}

var (
	errNotJSON = errs.New(errs.UnsupportedMedia, "unsupported_media_type",
		"the body must be application/json")
	errEmpty    = errs.New(errs.Malformed, "malformed_json", "the body is empty")
	errTooLarge = errs.New(errs.TooLarge, "body_too_large",
		fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	errMalformed = errs.New(errs.Malformed, "malformed_json", "the body is not valid JSON")
	errTrailing  = errs.New(errs.Malformed, "malformed_json",
		"the body has data after the JSON value")
	errNotObject = errs.New(errs.Malformed, "malformed_json", "the body must be a JSON object")
)

// Decode reads one JSON object from r's body into dst strictly: the content type
// must be JSON, the body at most MaxBodyBytes, every field known, named in
// its exact case, given once and of the right type, nothing after the
// object. Then, if dst is a Validator, it validates. Errors carry kinds: 400
// malformed, 413, 415, 422 with field errors (one field for a decoding
// error: the first in the body).
func Decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return errNotJSON
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errTooLarge
		}
		return errs.E(errs.Malformed, "malformed_json", "the body could not be read", err)
	}
	if err := DecodeBytes(body, dst); err != nil {
		return err
	}
	if v, ok := dst.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// DecodeBytes is Decode's strict JSON step on a body already read, without
// validation. It is what fuzz tests exercise.
func DecodeBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errEmpty
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, body, dst)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	// encoding/json takes a top-level null as "leave dst alone"; into a
	// struct, every other value that is not an object already failed above.
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("null")) {
		return errNotObject
	}
	return checkNames(body, reflect.TypeOf(dst))
}

func decodeError(err error, body []byte, dst any) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errMalformed
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errNotObject
		}
		return errs.Invalidf(typ.Field, "must be %s, not %s", jsonKind(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errs.Invalidf(unknownFieldPath(body, reflect.TypeOf(dst), field),
			"is not a known field")
	}
	return errMalformed
}

// jsonKind names the JSON type that decodes into t, for field messages.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
