package authtest

import (
	"crypto/rand"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are the claims of a token to mint. A zero time or empty string leaves
// the claim out, which is how tests craft tokens missing exp and the like.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time
	NotBefore time.Time
	IssuedAt  time.Time
	ID        string
	Roles     []string
}

// DefaultClaims are the claims identity would put in a fresh token for userID.
func DefaultClaims(userID string, roles ...string) Claims {
	now := time.Now()
	return Claims{
		Issuer:    "emporium",
		Subject:   userID,
		Audience:  []string{"emporium"},
		Expiry:    now.Add(TokenLifetime),
		NotBefore: now,
		IssuedAt:  now,
		ID:        rand.Text(),
		Roles:     roles,
	}
}

// Token mints a valid access token for userID with roles.
func (iss *Issuer) Token(userID string, roles ...string) string {
	return Sign(iss.t, iss.Key(), DefaultClaims(userID, roles...))
}

// TokenWith mints a token from DefaultClaims("user-1", "customer") changed by
// edit: expired, not yet valid, for another audience, and so on.
func (iss *Issuer) TokenWith(edit func(*Claims)) string {
	c := DefaultClaims("user-1", "customer")
	edit(&c)
	return Sign(iss.t, iss.Key(), c)
}

// Sign mints a compact EdDSA JWT of c with key, naming key.ID as kid. Tests use
// it with keys no Issuer serves to forge tokens.
func Sign(t testing.TB, key Key, c Claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), key.ID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key.Private}, opts)
	if err != nil {
		t.Fatalf("authtest: signer: %v", err)
	}
	tok, err := jwt.Signed(signer).Claims(c.jwt()).Serialize()
	if err != nil {
		t.Fatalf("authtest: sign: %v", err)
	}
	return tok
}

// jwt renders c as the token's JSON payload.
func (c Claims) jwt() map[string]any {
	m := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	setTime := func(k string, t time.Time) {
		if !t.IsZero() {
			m[k] = jwt.NewNumericDate(t)
		}
	}
	set("iss", c.Issuer)
	set("sub", c.Subject)
	set("jti", c.ID)
	if len(c.Audience) == 1 {
		m["aud"] = c.Audience[0]
	} else if len(c.Audience) > 1 {
		m["aud"] = c.Audience
	}
	setTime("exp", c.Expiry)
	setTime("nbf", c.NotBefore)
	setTime("iat", c.IssuedAt)
	if c.Roles != nil {
		m["roles"] = c.Roles
	}
	return m
}
