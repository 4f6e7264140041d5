package identity

import (
	"testing"

	"emporium/internal/platform/web"
)

// decodeStatus runs a body through the strict decoder and the request's own
// validation, as the handler does, and returns the status it would answer.
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
	`{"email":"ada@example.com","password":"correct horse battery","name":"Ada"}`,
	`{"email":"ada@example.com","password":"correct horse battery","name":"Ada","phone":"+14155550100"}`,
	`{"email":"ada@example.com","password":"x","name":"","phone":null}`,
	`{"email":"ADA@EXAMPLE.COM ","password":"correct horse battery"}`,
	`{"email":42}`, `{"roles":["admin"]}`, `[]`, `null`, `{}`, `{"email":"a"`, ``, `"str"`,
	`{"email":"\u0000@x.y","password":"\uffff\uffff\uffff\uffff\uffff\uffff\uffff\uffff","name":"\u202e"}`,
	`{"email":"a@b.c","password":"pppppppp","name":"n","phone":"+1"}`,
	`{"name":{"nested":[1,2,{"deep":true}]}}`,
}

func FuzzRegisterRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if status := decodeStatus[RegisterRequest](body); status >= 500 {
			t.Fatalf("register body %q answered %d", body, status)
		}
	})
}

func FuzzLoginRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if status := decodeStatus[LoginRequest](body); status >= 500 {
			t.Fatalf("login body %q answered %d", body, status)
		}
	})
}

// TestDecodeStatus checks that the fuzz property can fail, on known bodies.
func TestDecodeStatus(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{fuzzSeeds[0], 200},
		{`{"email":"a"`, 400},
		{`{"roles":["admin"]}`, 422},
		{`{"email":"ada@example.com","password":"password","name":"Ada"}`, 422},
	}
	for _, tt := range tests {
		if got := decodeStatus[RegisterRequest]([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.body, got, tt.want)
		}
	}
}
