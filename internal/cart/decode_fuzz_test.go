package cart

import (
	"testing"

	"emporium/internal/platform/web"
)

// decodeStatus runs a body through the strict decoder and the request's own
// validation, as the handlers do, and returns the status it would answer.
func decodeStatus[T any, P interface {
	*T
	web.Validator
}](body []byte) int {
	var req T
	err := web.DecodeBytes(body, &req)
	if err == nil {
		err = P(&req).Validate()
	}
	if err == nil {
		return 200
	}
	return web.ProblemFor(err).Status
}

var fuzzSeeds = []string{
	`{"product_id":"0190a3c2-7c1e-7b4e-9f0a-3d2b1c4e5f60","quantity":2}`,
	`{"product_id":"a,b","quantity":99}`, `{"product_id":"","quantity":0}`,
	`{"quantity":0}`, `{"quantity":null}`, `{"quantity":-1}`, `{"quantity":1e3}`,
	`{"quantity":99999999999999999999}`, `{"cart_token":"x"}`, `{"cart_token":null}`,
	`{"cart_token":"` + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + `"}`,
	`[]`, `null`, `{}`, `{"quantity":"1"}`, ``, `"str"`, `{"product_id":`,
	`{"product_id":"\u0000","quantity":1,"quantity":2}`, `{"Quantity":1}`,
	`{"product_id":{"nested":[1,2,{"deep":true}]}}`,
}

// fuzzDecoder checks that a decoder answers every body with a success or a
// 4xx problem, never a panic or a 5xx.
func fuzzDecoder(f *testing.F, decode func([]byte) int) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if status := decode(body); status != 200 && (status < 400 || status >= 500) {
			t.Fatalf("body %q answered %d", body, status)
		}
	})
}

func FuzzAddItemRequest(f *testing.F) { fuzzDecoder(f, decodeStatus[AddItemRequest]) }

func FuzzUpdateItemRequest(f *testing.F) { fuzzDecoder(f, decodeStatus[UpdateItemRequest]) }

func FuzzMergeRequest(f *testing.F) { fuzzDecoder(f, decodeStatus[MergeRequest]) }

// TestDecodeStatus checks that the fuzz property can fail, on known bodies.
func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"add", decodeStatus[AddItemRequest]([]byte(fuzzSeeds[0])), 200},
		{"add, no quantity", decodeStatus[AddItemRequest]([]byte(`{"product_id":"p"}`)), 422},
		{"add, malformed", decodeStatus[AddItemRequest]([]byte(`{"product_id":`)), 400},
		{"update, 0", decodeStatus[UpdateItemRequest]([]byte(`{"quantity":0}`)), 200},
		{"update, null", decodeStatus[UpdateItemRequest]([]byte(`{"quantity":null}`)), 422},
		{"merge", decodeStatus[MergeRequest]([]byte(`{"cart_token":"x"}`)), 200},
		{"merge, empty", decodeStatus[MergeRequest]([]byte(`{}`)), 422},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
