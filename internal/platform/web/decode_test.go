package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"emporium/internal/platform/errs"
)

type decodeLine struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

type decodeMeta struct {
	Note string `json:"note"`
}

type decodeTarget struct {
	decodeMeta
	Lines      []decodeLine          `json:"lines"`
	Attributes map[string]decodeLine `json:"attributes"`
	Address    *testAddress          `json:"address,omitempty"`
	At         time.Time             `json:"at"`
	Amount     json.Number           `json:"amount"`
	Skipped    string                `json:"-"`
}

func TestDecodeBytesFieldPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantKind  errs.Kind
		wantField string
	}{
		{"valid", `{"note":"n","lines":[{"product_id":"p","quantity":1}]}`, 0, ""},
		// Names are case-sensitive, and each is given once.
		{"field in another case", `{"NOTE":"n"}`, errs.Invalid, "note"},
		{"first breach in the body wins", `{"lines":[],"Lines":[],"NOTE":"n"}`, errs.Invalid,
			"lines"},
		{"field in another case in an array element", `{"lines":[{"Quantity":1}]}`,
			errs.Invalid, "lines.quantity"},
		{"field in another case under a pointer", `{"address":{"CITY":"x"}}`, errs.Invalid,
			"address.city"},
		{"field in another case in a map value", `{"attributes":{"A":{"Quantity":1}}}`,
			errs.Invalid, "attributes.A.quantity"},
		{"map keys may differ in case", `{"attributes":{"a":{},"A":{}}}`, 0, ""},
		{"repeated field", `{"note":"a","note":"b"}`, errs.Invalid, "note"},
		{"repeated field, two values", `{"lines":[],"note":"a","lines":[{}]}`, errs.Invalid,
			"lines"},
		{"repeated field in an array element", `{"lines":[{},{"quantity":1,"quantity":2}]}`,
			errs.Invalid, "lines.quantity"},
		{"repeated map key", `{"attributes":{"a":{},"a":{}}}`, errs.Invalid, "attributes.a"},
		{"repeated field in another case", `{"note":"a","Note":"b"}`, errs.Invalid, "note"},
		{"a huge number does not hide a repeat", `{"amount":1e400,"note":"a","note":"b"}`,
			errs.Invalid, "note"},
		{"unknown in array element", `{"lines":[{"product_id":"p"},{"colour":"red"}]}`,
			errs.Invalid, "lines.colour"},
		{"unknown in map value", `{"attributes":{"a":{"size":1}}}`, errs.Invalid,
			"attributes.a.size"},
		{"unknown under pointer", `{"address":{"zip":"1"}}`, errs.Invalid, "address.zip"},
		{"dash-tagged is unknown", `{"Skipped":"x"}`, errs.Invalid, "Skipped"},
		{"wrong type in array", `{"lines":[{"quantity":"2"}]}`, errs.Invalid,
			"lines.quantity"},
		{"time decodes itself", `{"at":"2026-01-02T03:04:05Z"}`, 0, ""},
		{"empty", `  `, errs.Malformed, ""},
		{"not an object", `[1]`, errs.Malformed, ""},
		{"trailing data", `{} {}`, errs.Malformed, ""},
		{"truncated", `{"note":`, errs.Malformed, ""},
	}
	for _, tt := range tests {
		var dst decodeTarget
		err := DecodeBytes([]byte(tt.body), &dst)
		if tt.wantKind == 0 {
			if err != nil {
				t.Errorf("%s: DecodeBytes = %v, want nil", tt.name, err)
			}
			continue
		}
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != tt.wantKind {
			t.Errorf("%s: DecodeBytes = %v, want kind %v", tt.name, err, tt.wantKind)
			continue
		}
		var fields []string
		for _, f := range e.Fields {
			fields = append(fields, f.Field)
		}
		var want []string
		if tt.wantField != "" {
			want = []string{tt.wantField}
		}
		if !slices.Equal(fields, want) {
			t.Errorf("%s: fields = %q, want %q", tt.name, fields, want)
		}
	}
}

func FuzzDecodeBytes(f *testing.F) {
	for _, s := range []string{`{}`, `{"lines":[{"colour":1}]}`, `{"address":{"city":2}}`,
		`{"attributes":{"a":{"x":[]}}}`, `nul`, `{"at":"x"}`, `{"NOTE":"n","note":"m"}`,
		`{"attributes":{"a":{},"A":{},"a":{}}}`, `{"attributes":{"\u0061":{},"a":{}}}`,
		"{\"attributes\":{\"\xff\":{},\"\xfe\":{}}}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst decodeTarget
		err := DecodeBytes(body, &dst)
		if err == nil {
			if name, ok := repeatedName(body); ok {
				t.Errorf("DecodeBytes(%q) accepted the repeated name %q", body, name)
			}
			return
		}
		if k := errs.KindOf(err); k != errs.Malformed && k != errs.Invalid {
			t.Errorf("DecodeBytes(%q) = %v of kind %v, want malformed or invalid", body, err, k)
		}
	})
}

// repeatedName reports a name that some object of body repeats, as
// encoding/json reads names (escapes resolved, invalid UTF-8 as U+FFFD).
func repeatedName(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var objects []map[string]bool
	expectName := func() bool { // the next string in an object is a name
		return len(objects) > 0 && objects[len(objects)-1] != nil
	}
	afterName := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch tok {
		case json.Delim('{'):
			objects = append(objects, map[string]bool{})
			afterName = false
			continue
		case json.Delim('['):
			objects = append(objects, nil)
			afterName = false
			continue
		case json.Delim('}'), json.Delim(']'):
			objects = objects[:len(objects)-1]
			afterName = false
			continue
		}
		if expectName() && !afterName {
			name := tok.(string)
			if objects[len(objects)-1][name] {
				return name, true
			}
			objects[len(objects)-1][name] = true
			afterName = true
			continue
		}
		afterName = false
	}
}

// TestRepeatedName checks the fuzz property's own checker.
func TestRepeatedName(t *testing.T) {
	tests := []struct {
		body string
		want string // "" for none
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, ""},
		{`{"a":{"b":1,"b":2}}`, "b"},
		{`{"a":[1,{"x":1}],"a":2}`, "a"},
		{`{"\u0061":1,"a":2}`, "a"},
		{"{\"\xff\":1,\"\xfe\":2}", "\ufffd"},
	}
	for _, tt := range tests {
		name, ok := repeatedName([]byte(tt.body))
		if ok != (tt.want != "") || name != tt.want {
			t.Errorf("repeatedName(%s) = %q, %v; want %q", tt.body, name, ok, tt.want)
		}
	}
}
