package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"

	"emporium/internal/platform/web"
)

// ServiceTokenHeader carries the shared service credential on internal
// (service-to-service) requests.
const ServiceTokenHeader = "X-Emporium-Service-Token"

// MinServiceSecretBytes is the shortest service secret accepted.
const MinServiceSecretBytes = 32

// ValidateServiceSecret reports whether secret is long enough to be the
// service credential. Configuration calls it at start so that a bad setting
// stops the process with a message naming the variable.
func ValidateServiceSecret(secret string) error {
	if len(secret) < MinServiceSecretBytes {
		return fmt.Errorf("the service secret must be at least %d bytes, got %d",
			MinServiceSecretBytes, len(secret))
	}
	return nil
}

// RequireService guards an internal listener: a request passes only if its
// ServiceTokenHeader equals secret; otherwise it is answered with a 401
// problem. A user's bearer token never satisfies it.
//
// RequireService panics if secret is shorter than MinServiceSecretBytes: that
// is a wiring mistake, which configuration should already have reported via
// ValidateServiceSecret, and an internal port must never run unguarded.
func RequireService(secret string) func(http.Handler) http.Handler {
	if err := ValidateServiceSecret(secret); err != nil {
		panic("auth.RequireService: " + err.Error())
	}
	// Comparing fixed-length digests in constant time reveals neither the
	// secret's bytes nor its length through timing.
	want := sha256.Sum256([]byte(secret))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			values := r.Header.Values(ServiceTokenHeader)
			if len(values) != 1 {
				web.WriteError(w, r, ErrServiceCredential)
				return
			}
			got := sha256.Sum256([]byte(values[0]))
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				web.WriteError(w, r, ErrServiceCredential)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ServiceHeader returns the header to add to outgoing internal requests.
func ServiceHeader(secret string) http.Header {
	return http.Header{ServiceTokenHeader: []string{secret}}
}

// NewServiceSecret returns a random 256-bit secret, base64url-encoded without
// padding (43 characters), for the all-in-one process to share between its
// services.
func NewServiceSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}
