package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"emporium/internal/event"
	"emporium/internal/platform/auth"
	"emporium/internal/platform/bus"
)

// IdentityStream is the stream the identity service publishes to; services
// read token revocations from it.
const IdentityStream = "IDENTITY"

// revocationHorizon is how far back a starting service reads revocations: the
// longest an access token lives plus the verifiers' leeway. Older revocations
// cannot matter, since every token they revoked has expired.
const revocationHorizon = 15*time.Minute + auth.DefaultLeeway + time.Minute

// revocationFeed feeds list from identity.user.tokens_revoked events, starting
// revocationHorizon ago, so that a password change, a role change or a logout
// from every session stops the user's access tokens everywhere within seconds.
// It is an ordered (ephemeral) consumer: every process reads every revocation.
func revocationFeed(b *bus.Bus, list *auth.RevocationList, log *slog.Logger) Worker {
	return Worker{Name: "revocation-feed", Run: func(ctx context.Context) error {
		cons, err := b.JetStream().OrderedConsumer(ctx, IdentityStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{event.UserTokensRevoked},
			DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
			OptStartTime:   ptr(time.Now().Add(-revocationHorizon)),
		})
		if err != nil {
			return fmt.Errorf("revocation feed: %w", err)
		}
		msgs, err := cons.Messages()
		if err != nil {
			return fmt.Errorf("revocation feed: %w", err)
		}
		defer msgs.Stop()
		go func() {
			<-ctx.Done()
			msgs.Stop()
		}()
		prune := time.NewTicker(time.Minute)
		defer prune.Stop()
		for {
			msg, err := msgs.Next()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("revocation feed: %w", err)
			}
			var env event.Envelope
			var r event.TokensRevoked
			if err := json.Unmarshal(msg.Data(), &env); err != nil || env.Decode(&r) != nil || r.UserID == "" {
				log.WarnContext(ctx, "revocation feed: ignoring a malformed event", slog.String("subject", msg.Subject()))
				continue
			}
			list.Set(r.UserID, r.NotBefore)
			select {
			case <-prune.C:
				list.Prune(time.Now().Add(-revocationHorizon))
			default:
			}
		}
	}}
}

func ptr[T any](v T) *T { return &v }
