// Package auth verifies the access tokens that the identity service issues and
// guards internal routes with the service-to-service credential.
//
// Access tokens are compact JWTs signed with EdDSA (Ed25519) whose public keys
// the identity service publishes as a JWKS. A Verifier fetches and caches that
// set; Authenticate puts the verified Caller in the request context, and
// RequireUser and RequireRole guard handlers. A bad token is refused only by
// the routes that need a login: elsewhere it counts as no token. Internal listeners use
// RequireService, which checks a shared secret sent in ServiceTokenHeader and
// ignores bearer tokens entirely.
package auth

import "emporium/internal/platform/errs"

// The errors Verify and the guards return. Each carries a message that is safe
// to show a client; none repeats the token.
var (
	// ErrInvalidToken is any access token that is malformed, forged, signed
	// with an unknown key or algorithm, or meant for another issuer or audience.
	ErrInvalidToken = errs.New(errs.Unauthenticated, "unauthenticated",
		"the access token is invalid")
	// ErrTokenExpired is an access token past its exp (beyond the leeway).
	ErrTokenExpired = errs.New(errs.Unauthenticated, "unauthenticated",
		"the access token has expired")
	// ErrTokenRevoked is an access token issued before its user's tokens were revoked.
	ErrTokenRevoked = errs.New(errs.Unauthenticated, "unauthenticated",
		"the access token has been revoked")
	// ErrMalformedHeader is an Authorization header that is not "Bearer <token>".
	ErrMalformedHeader = errs.New(errs.Unauthenticated, "unauthenticated",
		"the Authorization header must be \"Bearer <access token>\"")
	// ErrAuthRequired answers an anonymous request to a route that needs a user.
	ErrAuthRequired = errs.New(errs.Unauthenticated, "unauthenticated",
		"an access token is required")
	// ErrForbidden answers a user who lacks the role a route needs.
	ErrForbidden = errs.New(errs.Forbidden, "forbidden",
		"you are not allowed to do this")
	// ErrServiceCredential answers an internal request without the right service credential.
	ErrServiceCredential = errs.New(errs.Unauthenticated, "unauthenticated",
		"a valid service credential is required")
	// ErrKeysUnavailable means the signing keys could not be fetched and none
	// are cached, so no token can be checked (503 with Retry-After).
	ErrKeysUnavailable = errs.New(errs.Unavailable, "unavailable",
		"authentication is temporarily unavailable")
)
