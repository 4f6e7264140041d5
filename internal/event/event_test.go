package event

import (
	"testing"
	"time"
)

func TestValidType(t *testing.T) {
	tests := []struct {
		typ  string
		want bool
	}{
		{"identity.user.registered", true},
		{"orders.order.paid", true},
		{"payments.payment.failed_2", true},
		{"identity.user", false},
		{"identity.user.registered.extra", false},
		{"Identity.user.registered", false},
		{"identity..registered", false},
		{"identity.user.*", false},
		{"identity.user.>", false},
	}
	for _, tt := range tests {
		if got := ValidType(tt.typ) == nil; got != tt.want {
			t.Errorf("ValidType(%q) ok = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestNewAndDecode(t *testing.T) {
	before := time.Now().UTC()
	env, err := New(UserTokensRevoked, IdentitySource, TokensRevoked{UserID: "u1", Reason: "logout"})
	if err != nil {
		t.Fatal(err)
	}
	if env.ID == "" || env.Type != UserTokensRevoked || env.Source != IdentitySource || env.Time.Before(before) {
		t.Errorf("envelope = %+v", env)
	}
	var got TokensRevoked
	if err := env.Decode(&got); err != nil || got.UserID != "u1" || got.Reason != "logout" {
		t.Errorf("Decode = %+v, %v", got, err)
	}
	if _, err := New("not-a-type", IdentitySource, nil); err == nil {
		t.Error("New accepted a malformed type")
	}
	other, _ := New(UserTokensRevoked, IdentitySource, nil)
	if other.ID <= env.ID {
		t.Errorf("ids are not increasing UUIDv7s: %s then %s", env.ID, other.ID)
	}
}
