package app

import (
	"context"
	"log/slog"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
)

// IdentityStream is the stream the identity service publishes to; services
// read token revocations from it.
const IdentityStream = "IDENTITY"

// revocationHorizon is how far back a starting service reads revocations, and
// how long one is kept: the longest an access token may live
// (auth.MaxTokenLifetime, whatever identity is configured with) plus the
// verifiers' leeway. Older revocations cannot matter: every token they
// revoked has expired.
const revocationHorizon = auth.MaxTokenLifetime + auth.DefaultLeeway + time.Minute

// revocationFeed feeds list from identity.user.tokens_revoked events, starting
// revocationHorizon ago, so that a password change, a role change or a logout
// from every session stops the user's access tokens everywhere within seconds.
// It is an ordered (ephemeral) consumer: every process reads every revocation.
func revocationFeed(b *bus.Bus, list *auth.RevocationList, log *slog.Logger) Worker {
	return Worker{Name: "revocation-feed", Run: func(ctx context.Context) error {
		lastPrune := time.Now()
		return b.Follow(ctx, bus.FollowConfig{
			Stream: IdentityStream, Subject: event.UserTokensRevoked, Since: revocationHorizon, Logger: log,
			Handler: func(ctx context.Context, env event.Envelope) {
				var r event.TokensRevoked
				if err := env.Decode(&r); err != nil || r.UserID == "" {
					log.WarnContext(ctx, "revocation feed: ignoring a malformed event", slog.String("id", env.ID))
					return
				}
				list.Set(r.UserID, r.NotBefore)
				if time.Since(lastPrune) > time.Minute {
					list.Prune(time.Now().Add(-revocationHorizon))
					lastPrune = time.Now()
				}
			},
		})
	}}
}
