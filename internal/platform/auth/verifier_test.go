package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"emporium/internal/platform/auth"
	"emporium/internal/platform/auth/authtest"
	"emporium/internal/platform/errs"
)

func TestVerifyValidToken(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v := iss.Verifier(t)
	claims := authtest.DefaultClaims("user-42", "customer", "admin")
	tok := authtest.Sign(t, iss.Key(), claims)

	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := auth.Caller{
		UserID:    "user-42",
		Roles:     []string{"customer", "admin"},
		TokenID:   claims.ID,
		IssuedAt:  claims.IssuedAt.Truncate(time.Second),
		ExpiresAt: claims.Expiry.Truncate(time.Second),
	}
	if got.UserID != want.UserID || !slices.Equal(got.Roles, want.Roles) ||
		got.TokenID != want.TokenID || !got.IssuedAt.Equal(want.IssuedAt) ||
		!got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}
	if !got.IsAdmin() || !got.HasRole("customer") || got.HasRole("root") {
		t.Errorf("roles of %+v answer wrongly", got)
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	v := iss.Verifier(t)
	key := iss.Key()
	now := time.Now()
	edit := func(f func(*authtest.Claims)) string { return iss.TokenWith(f) }
	valid := iss.Token("user-1", "customer")

	tests := []struct {
		name    string
		token   string
		wantErr *errs.Error
	}{
		{"alg none", algNone(t, key.ID), auth.ErrInvalidToken},
		{"HS256 keyed with the public key", hs256(t, key), auth.ErrInvalidToken},
		{"RS256", rs256(t, key.ID), auth.ErrInvalidToken},
		{"wrong aud", edit(func(c *authtest.Claims) { c.Audience = []string{"other"} }),
			auth.ErrInvalidToken},
		{"no aud", edit(func(c *authtest.Claims) { c.Audience = nil }), auth.ErrInvalidToken},
		{"wrong iss", edit(func(c *authtest.Claims) { c.Issuer = "evil" }), auth.ErrInvalidToken},
		{"expired", edit(func(c *authtest.Claims) { c.Expiry = now.Add(-time.Minute) }),
			auth.ErrTokenExpired},
		{"not yet valid", edit(func(c *authtest.Claims) { c.NotBefore = now.Add(time.Minute) }),
			auth.ErrInvalidToken},
		{"issued in the future", edit(func(c *authtest.Claims) {
			c.IssuedAt = now.Add(time.Minute)
		}), auth.ErrInvalidToken},
		{"missing exp", edit(func(c *authtest.Claims) { c.Expiry = time.Time{} }),
			auth.ErrInvalidToken},
		{"missing iat", edit(func(c *authtest.Claims) { c.IssuedAt = time.Time{} }),
			auth.ErrInvalidToken},
		{"missing sub", edit(func(c *authtest.Claims) { c.Subject = "" }), auth.ErrInvalidToken},
		{"tampered roles", tamper(t, valid), auth.ErrInvalidToken},
		{"unknown kid", authtest.Sign(t, authtest.NewKey(t), authtest.DefaultClaims("user-1")),
			auth.ErrInvalidToken},
		{"known kid, other key", authtest.Sign(t,
			authtest.Key{ID: key.ID, Private: authtest.NewKey(t).Private},
			authtest.DefaultClaims("user-1", "admin")), auth.ErrInvalidToken},
		{"no kid", noKid(t, key), auth.ErrInvalidToken},
		{"JSON serialization", jsonSerialized(t, valid), auth.ErrInvalidToken},
		{"empty", "", auth.ErrInvalidToken},
		{"garbage", "not.a.token", auth.ErrInvalidToken},
		{"huge", strings.Repeat("a", 9000) + ".b.c", auth.ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %+v, %v; want %v", got, err, tt.wantErr)
			}
			wantKind(t, err, errs.Unauthenticated, "unauthenticated", tt.token)
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	now := time.Now()
	tests := []struct {
		name   string
		leeway time.Duration
		edit   func(*authtest.Claims)
		wantOK bool
	}{
		{"expired within default leeway", 0,
			func(c *authtest.Claims) { c.Expiry = now.Add(-10 * time.Second) }, true},
		{"expired beyond default leeway", 0,
			func(c *authtest.Claims) { c.Expiry = now.Add(-40 * time.Second) }, false},
		{"nbf within default leeway", 0,
			func(c *authtest.Claims) { c.NotBefore = now.Add(10 * time.Second) }, true},
		{"nbf beyond default leeway", 0,
			func(c *authtest.Claims) { c.NotBefore = now.Add(40 * time.Second) }, false},
		{"expired within a configured leeway", 2 * time.Minute,
			func(c *authtest.Claims) { c.Expiry = now.Add(-time.Minute) }, true},
		{"expired beyond a configured leeway", 5 * time.Second,
			func(c *authtest.Claims) { c.Expiry = now.Add(-10 * time.Second) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := iss.VerifierWith(t, func(c *auth.VerifierConfig) { c.Leeway = tt.leeway })
			_, err := v.Verify(context.Background(), iss.TokenWith(tt.edit))
			if got := err == nil; got != tt.wantOK {
				t.Errorf("accepted = %v, want %v (err: %v)", got, tt.wantOK, err)
			}
		})
	}
}

func TestVerifierIgnoresKeysThatAreNotEd25519SignatureKeys(t *testing.T) {
	t.Parallel()
	good := authtest.NewKey(t)
	encKey := authtest.NewKey(t)
	noAlg := authtest.NewKey(t)
	private := authtest.NewKey(t) // a private JWK is a publishing mistake, not a key to trust
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := func(k any, kid, use, alg string) json.RawMessage {
		b, err := json.Marshal(jose.JSONWebKey{Key: k, KeyID: kid, Use: use, Algorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set, err := json.Marshal(map[string]any{"keys": []json.RawMessage{
		json.RawMessage(`{"kty":"OKP","crv":"X25519","kid":"x","x":"` +
			base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `"}`),
		json.RawMessage(`{"kty":"weird","kid":"w"}`),
		jwk(&rsaKey.PublicKey, "rsa", "sig", "RS256"),
		jwk(encKey.Public(), encKey.ID, "enc", ""),
		jwk(authtest.NewKey(t).Public(), "es", "sig", "ES256"),
		jwk(authtest.NewKey(t).Public(), "", "sig", "EdDSA"),
		jwk(noAlg.Public(), noAlg.ID, "", ""),
		jwk(private.Private, private.ID, "sig", "EdDSA"),
		jwk(good.Public(), good.ID, "sig", "EdDSA"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	t.Cleanup(srv.Close)
	v, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		key    authtest.Key
		wantOK bool
	}{
		{good, true},
		{noAlg, true}, // use and alg are optional in a JWK
		{encKey, false},
		{private, false},
	}
	for _, tt := range tests {
		tok := authtest.Sign(t, tt.key, authtest.DefaultClaims("u"))
		_, err := v.Verify(context.Background(), tok)
		if got := err == nil; got != tt.wantOK {
			t.Errorf("key %s: accepted = %v, want %v (err: %v)", tt.key.ID, got, tt.wantOK, err)
		}
	}
}

func TestNewVerifierNeedsJWKSURL(t *testing.T) {
	t.Parallel()
	if _, err := auth.NewVerifier(auth.VerifierConfig{}); err == nil {
		t.Error("NewVerifier without JWKSURL: err = nil")
	}
}

// algNone builds an unsigned token naming kid.
func algNone(t *testing.T, kid string) string {
	t.Helper()
	header := fmt.Sprintf(`{"alg":"none","typ":"JWT","kid":%q}`, kid)
	payload, err := json.Marshal(map[string]any{
		"iss": "emporium", "aud": "emporium", "sub": "user-1", "roles": []string{"admin"},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc(payload) + "."
}

// hs256 signs a token with HMAC keyed by the public key's bytes: the classic
// algorithm-confusion forgery.
func hs256(t *testing.T, key authtest.Key) string {
	t.Helper()
	return signWith(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte(key.Public())}, key.ID)
}

// rs256 signs a token with a fresh RSA key under a known kid.
func rs256(t *testing.T, kid string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signWith(t, jose.SigningKey{Algorithm: jose.RS256, Key: k}, kid)
}

// noKid signs a token with the right key but no kid header.
func noKid(t *testing.T, key authtest.Key) string {
	t.Helper()
	return signWith(t, jose.SigningKey{Algorithm: jose.EdDSA, Key: key.Private}, "")
}

func signWith(t *testing.T, sk jose.SigningKey, kid string) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(sk, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: "emporium", Audience: jwt.Audience{"emporium"}, Subject: "user-1",
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Claims(map[string]any{"roles": []string{"admin"}}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tamper rewrites the payload of tok to grant admin, keeping the signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	m["roles"] = []string{"customer", "admin"}
	payload, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// jsonSerialized re-encodes a compact token in JWS JSON serialization.
func jsonSerialized(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := json.Marshal(map[string]string{
		"protected": parts[0], "payload": parts[1], "signature": parts[2],
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
