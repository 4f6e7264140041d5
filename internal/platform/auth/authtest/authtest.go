// Package authtest gives services' tests a real token issuer: Ed25519 keys, a
// JWKS served over HTTP by an httptest.Server, and tokens minted the way the
// identity service mints them, plus helpers to craft bad ones.
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"emporium/internal/platform/auth"
)

// TokenLifetime is how long minted tokens live, as identity's access tokens do.
const TokenLifetime = 15 * time.Minute

// Issuer mints access tokens and serves the JWKS that verifies them.
type Issuer struct {
	t      testing.TB
	server *httptest.Server

	fetches atomic.Int64
	status  atomic.Int32 // non-zero: the JWKS answers this status instead

	mu   sync.Mutex
	keys []Key // every key ever used, all served; the last one signs
}

// Key is one signing key and its kid.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
}

// Public returns the key's public half.
func (k Key) Public() ed25519.PublicKey {
	return k.Private.Public().(ed25519.PublicKey)
}

// NewKey generates an Ed25519 key with a random kid. It is not served by any
// Issuer, which makes it the key of a forger.
func NewKey(t testing.TB) Key {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("authtest: generate key: %v", err)
	}
	return Key{ID: "k-" + rand.Text()[:12], Private: priv}
}

// NewIssuer starts an issuer with one key; it stops when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{t: t, keys: []Key{NewKey(t)}}
	iss.server = httptest.NewServer(http.HandlerFunc(iss.serveJWKS))
	t.Cleanup(iss.server.Close)
	return iss
}

func (iss *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	iss.fetches.Add(1)
	if s := iss.status.Load(); s != 0 {
		http.Error(w, http.StatusText(int(s)), int(s))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(iss.JWKS())
}

// JWKS returns the key set as served: every key, newest last.
func (iss *Issuer) JWKS() []byte {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range iss.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key: k.Public(), KeyID: k.ID, Use: "sig", Algorithm: string(jose.EdDSA),
		})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic("authtest: marshal JWKS: " + err.Error())
	}
	return b
}

// JWKSURL is where the key set is served.
func (iss *Issuer) JWKSURL() string {
	return iss.server.URL + "/.well-known/jwks.json"
}

// Client returns an HTTP client for the JWKS server.
func (iss *Issuer) Client() *http.Client {
	return iss.server.Client()
}

// Fetches counts the requests the JWKS server has answered.
func (iss *Issuer) Fetches() int {
	return int(iss.fetches.Load())
}

// Key returns the current signing key.
func (iss *Issuer) Key() Key {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.keys[len(iss.keys)-1]
}

// Rotate switches to a new signing key and returns it; older keys stay in the JWKS.
func (iss *Issuer) Rotate() Key {
	k := NewKey(iss.t)
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keys = append(iss.keys, k)
	return k
}

// FailJWKS makes the JWKS server answer status (e.g. 503) to every request;
// 0 restores it.
func (iss *Issuer) FailJWKS(status int) {
	iss.status.Store(int32(status))
}

// Close shuts the JWKS server down, so fetches fail as if identity were down.
func (iss *Issuer) Close() {
	iss.server.Close()
}

// Verifier returns a Verifier pointed at the issuer's JWKS.
func (iss *Issuer) Verifier(t testing.TB) *auth.Verifier {
	t.Helper()
	return iss.VerifierWith(t, nil)
}

// VerifierWith is Verifier with cfg edited by edit (which may be nil) first.
func (iss *Issuer) VerifierWith(t testing.TB, edit func(*auth.VerifierConfig)) *auth.Verifier {
	t.Helper()
	cfg := auth.VerifierConfig{
		JWKSURL:    iss.JWKSURL(),
		HTTPClient: iss.Client(),
		// Fetch failures are expected in tests and would log after the test
		// ends; the verifier's answers say what went wrong.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	return v
}
