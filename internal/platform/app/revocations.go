package app

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"emporium/internal/event"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/web"
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

// followRevocations gives s the revocation feed that fills list, and the
// readiness check "revocations", which passes once the feed has read every
// revocation the stream held when it started: until then a revoked token
// could pass, so the process takes no traffic. A missing IDENTITY stream
// holds no revocation and passes at once. Once passed, the check stays
// passed; a later outage of the bus fails the "bus" check instead.
func (s *served) followRevocations(b *bus.Bus, list *auth.RevocationList, log *slog.Logger) {
	var caughtUp atomic.Bool
	s.workers = append(s.workers, revocationFeed(b, list, log, func() { caughtUp.Store(true) }))
	s.health.Checks = append(s.health.Checks, web.Check{Name: "revocations",
		Run: func(context.Context) error {
			if !caughtUp.Load() {
				return errors.New("the revocation feed has not read the revocations yet")
			}
			return nil
		}})
}

// revocationFeed feeds list from identity.user.tokens_revoked events, starting
// revocationHorizon ago, so that a password change, a role change or a logout
// from every session stops the user's access tokens everywhere within seconds.
// It is an ordered (ephemeral) consumer: every process reads every revocation.
// caughtUp is called when the revocations that were in the stream at its
// start are all in list.
func revocationFeed(b *bus.Bus, list *auth.RevocationList, log *slog.Logger,
	caughtUp func()) Worker {
	return Worker{Name: "revocation-feed", Run: func(ctx context.Context) error {
		lastPrune := time.Now()
		return b.Follow(ctx, bus.FollowConfig{
			Stream: IdentityStream, Subject: event.UserTokensRevoked, Since: revocationHorizon,
			Logger: log, CaughtUp: caughtUp,
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
