package auth_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
)

func TestRequireService(t *testing.T) {
	t.Parallel()
	secret := auth.NewServiceSecret()
	iss := authtest.NewIssuer(t)
	jwt := iss.Token("admin-1", auth.RoleCustomer, auth.RoleAdmin)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(auth.RequireService(secret)(ok))
	t.Cleanup(srv.Close)

	sameLength := strings.Repeat("x", len(secret))
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
	}{
		{"right secret", auth.ServiceHeader(secret), http.StatusNoContent},
		{"missing", nil, http.StatusUnauthorized},
		{"empty", http.Header{auth.ServiceTokenHeader: {""}}, http.StatusUnauthorized},
		{"wrong", auth.ServiceHeader("wrong"), http.StatusUnauthorized},
		{"wrong, same length", auth.ServiceHeader(sameLength), http.StatusUnauthorized},
		{"secret with a suffix", auth.ServiceHeader(secret + "x"), http.StatusUnauthorized},
		{"twice", http.Header{auth.ServiceTokenHeader: {secret, secret}}, http.StatusUnauthorized},
		{"customer bearer JWT", http.Header{"Authorization": {"Bearer " + jwt}},
			http.StatusUnauthorized},
		{"bearer JWT in the service header", auth.ServiceHeader(jwt), http.StatusUnauthorized},
		{"secret as a bearer token", http.Header{"Authorization": {"Bearer " + secret}},
			http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := get(t, srv.URL+"/internal/x", tt.header)
			if got.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", got.status, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusUnauthorized {
				if !got.problem || got.code != "unauthenticated" {
					t.Errorf("want an unauthenticated problem, got %s", got.body)
				}
				if strings.Contains(got.body, secret) {
					t.Errorf("body echoes the secret: %s", got.body)
				}
			}
		})
	}
}

func TestRequireServiceRefusesShortSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secret    string
		wantPanic bool
	}{
		{"", true},
		{strings.Repeat("s", 31), true},
		{strings.Repeat("s", 32), false},
	}
	for _, tt := range tests {
		if err := auth.ValidateServiceSecret(tt.secret); (err != nil) != tt.wantPanic {
			t.Errorf("ValidateServiceSecret(%d bytes) = %v", len(tt.secret), err)
		}
		func() {
			defer func() {
				if got := recover() != nil; got != tt.wantPanic {
					t.Errorf("RequireService(%d bytes) panicked = %v, want %v",
						len(tt.secret), got, tt.wantPanic)
				}
			}()
			auth.RequireService(tt.secret)
		}()
	}
}

func TestNewServiceSecret(t *testing.T) {
	t.Parallel()
	a, b := auth.NewServiceSecret(), auth.NewServiceSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Errorf("secret %q decodes to %d bytes (err %v), want 32", a, len(raw), err)
	}
	if err := auth.ValidateServiceSecret(a); err != nil {
		t.Errorf("ValidateServiceSecret(NewServiceSecret()) = %v", err)
	}
}
