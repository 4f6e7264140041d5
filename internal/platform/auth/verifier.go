package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"emporium/internal/platform/observability"
)

// Defaults for VerifierConfig's zero fields.
const (
	DefaultIssuer          = "emporium"
	DefaultAudience        = "emporium"
	DefaultLeeway          = 30 * time.Second
	DefaultRefreshInterval = 5 * time.Minute
	DefaultMinRefreshGap   = 10 * time.Second
)

// maxTokenBytes bounds the size of a token worth parsing.
const maxTokenBytes = 8 << 10

// VerifierConfig configures a Verifier. Only JWKSURL is required.
type VerifierConfig struct {
	// JWKSURL is the identity service's key set, e.g.
	// "http://identity:8080/.well-known/jwks.json".
	JWKSURL string
	// Issuer and Audience are the required iss and aud (default "emporium").
	Issuer   string
	Audience string
	// HTTPClient fetches the JWKS (default: a client with a 5s timeout).
	HTTPClient *http.Client
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30s).
	Leeway time.Duration
	// RefreshInterval is how old the cached keys may get before they are
	// refreshed (default 5m). The refresh is lazy: the first Verify after that
	// starts it in the background and goes on with the cached keys.
	RefreshInterval time.Duration
	// MinRefreshGap is the least time between two fetches caused by tokens with
	// unknown kids (default 10s), so made-up kids cannot hammer identity.
	MinRefreshGap time.Duration
	// Revocations, if set, refuses tokens issued before a user's tokens were revoked.
	Revocations Revocations
	// Logger receives fetch failures (default slog.Default()).
	Logger *slog.Logger
	// TokenCacheSize bounds how many verified tokens are remembered until
	// they expire, so that a token sent again is not parsed and checked
	// again (default DefaultTokenCacheSize; negative: none). The revocation
	// check runs on every request all the same.
	TokenCacheSize int
}

// Verifier checks access tokens against the identity service's JWKS, which it
// fetches on first use and caches. It is safe for concurrent use and needs no
// closing: it runs no background goroutine except a fetch in flight.
type Verifier struct {
	cfg            VerifierConfig
	log            *slog.Logger
	now            func() time.Time
	failureBackoff time.Duration
	expected       jwt.Expected
	tokens         *tokenCache // nil when TokenCacheSize is negative

	keys atomic.Pointer[keySet]

	mu           sync.Mutex // guards the fields below
	inflight     *fetchCall
	failedAt     time.Time // last failed fetch, zero after a success
	lastKidFetch time.Time // last fetch caused by an unknown kid
}

// NewVerifier returns a Verifier for cfg, filling in defaults. It does not
// contact the identity service; the first Verify does.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.JWKSURL == "" {
		return nil, errors.New("auth.NewVerifier: JWKSURL is required")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: fetchTimeout}
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("auth.NewVerifier: Leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MinRefreshGap <= 0 {
		cfg.MinRefreshGap = DefaultMinRefreshGap
	}
	cfg.Logger = observability.OrDefault(cfg.Logger)
	var tokens *tokenCache
	switch {
	case cfg.TokenCacheSize == 0:
		tokens = newTokenCache(DefaultTokenCacheSize)
	case cfg.TokenCacheSize > 0:
		tokens = newTokenCache(cfg.TokenCacheSize)
	}
	return &Verifier{
		tokens:         tokens,
		cfg:            cfg,
		log:            cfg.Logger,
		now:            time.Now,
		failureBackoff: min(cfg.MinRefreshGap, maxFailureBackoff),
		expected: jwt.Expected{
			Issuer:      cfg.Issuer,
			AnyAudience: jwt.Audience{cfg.Audience},
		},
	}, nil
}

// claims is the payload of an Emporium access token.
type claims struct {
	jwt.Claims
	Roles []string `json:"roles"`
}

// allowedAlgs pins the signature algorithm: go-jose refuses every other alg
// (none, HS256, RS256, ...) while parsing, before any key is looked at.
var allowedAlgs = []jose.SignatureAlgorithm{jose.EdDSA}

// Verify checks rawToken and returns its caller. Any problem with the token is
// an errs.Unauthenticated error (ErrInvalidToken, ErrTokenExpired or
// ErrTokenRevoked); when the keys cannot be fetched and none are cached it is
// ErrKeysUnavailable (errs.Unavailable).
func (v *Verifier) Verify(ctx context.Context, rawToken string) (Caller, error) {
	c, err := v.verify(ctx, rawToken)
	if err != nil {
		return Caller{}, fmt.Errorf("verify access token: %w", err)
	}
	return c, nil
}

func (v *Verifier) verify(ctx context.Context, raw string) (Caller, error) {
	// Compact serialization only: three dot-separated parts, bounded size.
	if len(raw) > maxTokenBytes || strings.Count(raw, ".") != 2 {
		return Caller{}, ErrInvalidToken
	}
	if v.tokens == nil {
		c, _, err := v.parse(ctx, raw)
		return c, err
	}
	key := tokenKey(raw)
	if t, ok := v.tokens.get(key, v.now()); ok {
		return v.cached(ctx, t)
	}
	c, kid, err := v.parse(ctx, raw)
	if err != nil {
		return Caller{}, err
	}
	v.tokens.put(key, cachedToken{caller: c, kid: kid, until: c.ExpiresAt.Add(v.cfg.Leeway)}, v.now())
	return c, nil
}

// cached checks again what may have changed since t was verified: its
// signing key must still be published (the keys are refreshed as often as
// when every token is parsed) and its user's tokens not revoked.
func (v *Verifier) cached(ctx context.Context, t cachedToken) (Caller, error) {
	set := v.keys.Load()
	if set == nil || set.keys[t.kid] == nil {
		return Caller{}, invalid(errUnknownKey)
	}
	if v.now().Sub(set.fetchedAt) >= v.cfg.RefreshInterval {
		v.startFetch(ctx, fetchStale)
	}
	if err := v.checkRevoked(t.caller.UserID, t.caller.IssuedAt); err != nil {
		return Caller{}, err
	}
	return t.caller, nil
}

// checkRevoked refuses a token of userID issued at iat when the user's
// tokens were revoked after that.
func (v *Verifier) checkRevoked(userID string, iat time.Time) error {
	if v.cfg.Revocations != nil {
		nb := v.cfg.Revocations.NotBefore(userID)
		if !nb.IsZero() && iat.Before(nb.Truncate(time.Second)) {
			return ErrTokenRevoked
		}
	}
	return nil
}

// parse verifies raw in full, and returns its caller and the kid of the key
// that signed it.
func (v *Verifier) parse(ctx context.Context, raw string) (Caller, string, error) {
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		return Caller{}, "", invalid(err)
	}
	if len(tok.Headers) != 1 {
		return Caller{}, "", ErrInvalidToken
	}
	h := tok.Headers[0]
	if h.Algorithm != string(jose.EdDSA) || h.KeyID == "" {
		return Caller{}, "", ErrInvalidToken
	}
	key, err := v.key(ctx, h.KeyID)
	if err != nil {
		return Caller{}, "", err
	}
	var cl claims
	if err := tok.Claims(key, &cl); err != nil {
		return Caller{}, "", invalid(err)
	}
	now := v.now()
	if cl.Expiry == nil || cl.IssuedAt == nil || cl.Subject == "" {
		return Caller{}, "", ErrInvalidToken
	}
	if err := cl.ValidateWithLeeway(v.expected.WithTime(now), v.cfg.Leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return Caller{}, "", ErrTokenExpired
		}
		return Caller{}, "", invalid(err)
	}
	iat := cl.IssuedAt.Time()
	if err := v.checkRevoked(cl.Subject, iat); err != nil {
		return Caller{}, "", err
	}
	return Caller{
		UserID:    cl.Subject,
		Roles:     cl.Roles,
		TokenID:   cl.ID,
		IssuedAt:  iat,
		ExpiresAt: cl.Expiry.Time(),
	}, h.KeyID, nil
}

// invalid wraps a verification failure's cause under ErrInvalidToken, so logs
// can tell why while clients see only ErrInvalidToken's message.
func invalid(cause error) error {
	return fmt.Errorf("%w: %w", ErrInvalidToken, cause)
}

// errUnknownKey is the cause when a token names a kid that is not in the JWKS.
var errUnknownKey = errors.New("unknown signing key")

// key returns the public key for kid, fetching the JWKS when nothing is
// cached, refreshing it in the background when stale, and refreshing it once
// (at most once per MinRefreshGap across all callers) when kid is unknown.
func (v *Verifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	set := v.keys.Load()
	if set == nil {
		call := v.startFetch(ctx, fetchInitial)
		if call == nil {
			return nil, ErrKeysUnavailable // a fetch just failed; not yet time to retry
		}
		if err := wait(ctx, call); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
		set = v.keys.Load()
	} else if v.now().Sub(set.fetchedAt) >= v.cfg.RefreshInterval {
		v.startFetch(ctx, fetchStale) // nobody waits; the cached keys serve meanwhile
	}
	if k, ok := set.keys[kid]; ok {
		return k, nil
	}
	call := v.startFetch(ctx, fetchUnknownKid)
	if call == nil {
		return nil, invalid(errUnknownKey)
	}
	if err := wait(ctx, call); err != nil {
		// The kid may be a new key that could not be fetched: retry later.
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if k, ok := v.keys.Load().keys[kid]; ok {
		return k, nil
	}
	return nil, invalid(errUnknownKey)
}
