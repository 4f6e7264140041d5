package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/errs"
)

type optionalMoney struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// optionalPatch is a PATCH body in the style of catalog's.
type optionalPatch struct {
	Name    Optional[string]                   `json:"name"`
	Price   Optional[optionalMoney]            `json:"price"`
	Lines   Optional[[]decodeLine]             `json:"lines"`
	Address Optional[*testAddress]             `json:"address"`
	ByKey   Optional[map[string]optionalMoney] `json:"by_key"`
	Nested  Optional[Optional[optionalMoney]]  `json:"nested"`
	At      Optional[time.Time]                `json:"at"`
}

func TestDecodeOptional(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantKind  errs.Kind // 0: no error
		wantField string
	}{
		{"value", `{"price":{"amount":100,"currency":"USD"}}`, 0, ""},
		{"null", `{"price":null,"address":null}`, 0, ""},
		{"time decodes itself", `{"at":"2026-01-02T03:04:05Z"}`, 0, ""},
		{"unknown inside an optional object",
			`{"price":{"amount":100,"currency":"USD","bogus":1}}`, errs.Invalid, "price.bogus"},
		{"unknown in an optional array's element",
			`{"lines":[{"product_id":"p"},{"colour":"red"}]}`, errs.Invalid, "lines.colour"},
		{"unknown under an optional pointer", `{"address":{"zip":"1"}}`, errs.Invalid,
			"address.zip"},
		{"unknown in an optional map's value", `{"by_key":{"a":{"amount":1,"x":2}}}`,
			errs.Invalid, "by_key.a.x"},
		{"unknown through two optionals", `{"nested":{"amount":1,"x":2}}`, errs.Invalid,
			"nested.x"},
		{"unknown beside optionals", `{"name":"n","bogus":1}`, errs.Invalid, "bogus"},
		{"wrong type inside an optional", `{"price":{"amount":"100"}}`, errs.Invalid,
			"price.amount"},
		{"wrong type of an optional", `{"name":7}`, errs.Invalid, "name"},
		{"optional in another case", `{"Name":"n"}`, errs.Invalid, "name"},
		{"repeated optional", `{"name":"a","name":null}`, errs.Invalid, "name"},
		{"another case inside an optional object", `{"price":{"Amount":1}}`, errs.Invalid,
			"price.amount"},
		{"another case through two optionals", `{"nested":{"CURRENCY":"USD"}}`, errs.Invalid,
			"nested.currency"},
		{"repeated inside an optional map's value", `{"by_key":{"a":{"amount":1,"amount":2}}}`,
			errs.Invalid, "by_key.a.amount"},
		{"optional map keys may differ in case", `{"by_key":{"usd":{},"USD":{}}}`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var dst optionalPatch
			err := DecodeBytes([]byte(tt.body), &dst)
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("DecodeBytes = %v, want nil", err)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != tt.wantKind {
				t.Fatalf("DecodeBytes = %v, want kind %v", err, tt.wantKind)
			}
			var fields []string
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			if want := []string{tt.wantField}; !slices.Equal(fields, want) {
				t.Errorf("fields = %q, want %q", fields, want)
			}
		})
	}
}

func TestOptionalRecordsPresence(t *testing.T) {
	t.Parallel()
	var got optionalPatch
	body := `{"name":"n","price":null,"address":{"name":"a","city":"c"}}`
	if err := DecodeBytes([]byte(body), &got); err != nil {
		t.Fatalf("DecodeBytes = %v", err)
	}
	want := optionalPatch{
		Name:    Optional[string]{Set: true, Value: "n"},
		Price:   Optional[optionalMoney]{Set: true, Null: true},
		Address: Optional[*testAddress]{Set: true, Value: &testAddress{Name: "a", City: "c"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
}

// TestDecodeWantsAnObject checks that only a JSON object decodes into a
// struct: null, which encoding/json would accept as "no change", and every
// other JSON value are 400 malformed_json.
func TestDecodeWantsAnObject(t *testing.T) {
	t.Parallel()
	const notObject = "the body must be a JSON object"
	tests := []struct {
		body, want string
	}{
		{`null`, notObject},
		{` null `, notObject},
		{`1`, notObject},
		{`"x"`, notObject},
		{`true`, notObject},
		{`[]`, notObject},
		{`[{"note":"n"}]`, notObject},
		{`nul`, "the body is not valid JSON"},
		{`null {}`, "the body has data after the JSON value"},
		{`[1`, "the body is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			t.Parallel()
			var dst decodeTarget
			err := DecodeBytes([]byte(tt.body), &dst)
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Malformed || e.Code != "malformed_json" ||
				e.Message != tt.want {
				t.Fatalf("DecodeBytes(%s) = %v, want malformed_json %q", tt.body, err, tt.want)
			}
			// Over HTTP it is a 400.
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			err = Decode(httptest.NewRecorder(), r, &dst)
			if p := ProblemFor(err); p.Status != http.StatusBadRequest || p.Code != "malformed_json" {
				t.Errorf("Decode(%s) answers %d %s, want 400 malformed_json", tt.body, p.Status,
					p.Code)
			}
		})
	}
}

func FuzzDecodeOptional(f *testing.F) {
	for _, s := range []string{`{"price":{"amount":1,"x":2}}`, `{"nested":{"x":[]}}`,
		`{"by_key":{"a":{"b":1}}}`, `{"lines":[{"colour":1}]}`, `null`, `{"at":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var dst optionalPatch
		err := DecodeBytes(body, &dst)
		if err == nil {
			return
		}
		if k := errs.KindOf(err); k != errs.Malformed && k != errs.Invalid {
			t.Errorf("DecodeBytes(%q) = %v of kind %v, want malformed or invalid", body, err, k)
		}
	})
}
