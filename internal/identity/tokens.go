package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// Token claims of API.md: issuer and audience are both "emporium".
const (
	tokenIssuer   = "emporium"
	tokenAudience = "emporium"
)

// accessClaims are the claims beside the registered ones.
type accessClaims struct {
	Roles []string `json:"roles"`
}

var errNoSigningKey = errors.New("no signing key")

// mintAccess signs an access token for u. Its iat is never before the user's
// tokens_not_before, so a token issued in the second of a revocation, after it,
// is not refused with the ones it revoked (verifiers compare whole seconds).
func (k *Keyring) mintAccess(u *User, now time.Time) (token string, expiresIn time.Duration, err error) {
	key, ok := k.current()
	if !ok {
		return "", 0, errNoSigningKey
	}
	issued := now.Truncate(time.Second)
	if u.tokensNotBefore.After(issued) {
		issued = u.tokensNotBefore
	}
	claims := jwt.Claims{
		Issuer:    tokenIssuer,
		Subject:   u.ID,
		Audience:  jwt.Audience{tokenAudience},
		Expiry:    jwt.NewNumericDate(now.Add(k.tokenTTL)),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(issued),
		ID:        uuid.NewString(),
	}
	raw, err := jwt.Signed(key.signer).Claims(claims).Claims(accessClaims{Roles: u.Roles}).Serialize()
	if err != nil {
		return "", 0, fmt.Errorf("sign access token: %w", err)
	}
	return raw, k.tokenTTL, nil
}

// newRefreshToken returns an opaque refresh token of 256 random bits and the
// hash under which it is stored.
func newRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	token = b64url.EncodeToString(b)
	return token, hashRefreshToken(token)
}

// hashRefreshToken is the form in which a refresh token is stored and looked up.
func hashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// revocationTime is when a revocation made at now takes effect: the next whole
// second, so that every token issued up to now (iat is in whole seconds) is
// older, and new tokens get it as their iat.
func revocationTime(now time.Time) time.Time {
	return now.Truncate(time.Second).Add(time.Second).UTC()
}
