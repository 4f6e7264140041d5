package identity

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"

	"emporium/internal/platform/ratelimit"
)

// The throttle keys: failures per account and per client address, and
// registrations per client address.
func loginAccountKey(email string) string { return "login:acct:" + email }
func loginAddressKey(ip string) string    { return "login:addr:" + addressKey(ip) }
func registrationKey(ip string) string    { return "register:addr:" + addressKey(ip) }

// addressKey is the part of a client address that throttling counts: an IPv4
// address whole, an IPv6 address by its /64, the network one subscriber is
// usually given (a client can take any address in it, so counting single
// addresses would let it rotate past every limit).
func addressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// limitFor returns the limit that applies to a throttle key.
func (s *Service) limitFor(key string) ratelimit.Limit {
	switch {
	case strings.HasPrefix(key, "login:acct:"):
		return ratelimit.Limit{Max: s.cfg.LoginFailuresPerAccount, Window: s.cfg.LoginFailureWindow}
	case strings.HasPrefix(key, "login:addr:"):
		return ratelimit.Limit{Max: s.cfg.LoginFailuresPerAddress, Window: s.cfg.LoginFailureWindow}
	}
	return ratelimit.Limit{Max: s.cfg.RegistrationsPerAddress, Window: s.cfg.RegistrationWindow}
}

// attempt is a password check admitted by the throttle, with the event it
// recorded under each of its keys.
type attempt struct {
	keys []string
	ids  []string
}

// admit counts a password check under each of its keys before it is made,
// and refuses it while any key is at its limit. An attempt holds its place
// while it runs, so at most Max checks per window get through however many
// arrive at once; it keeps its place when it fails, and gives it back
// (forget, or Reset) when it turns out not to be a failure. A refused attempt
// leaves nothing behind. When the store cannot answer, the check goes ahead:
// an outage of the counters must not lock every customer out.
func (s *Service) admit(ctx context.Context, keys ...string) (attempt, error) {
	var a attempt
	var refused *ratelimit.Result
	for _, key := range keys {
		l := s.limitFor(key)
		if refused != nil {
			// Refused already: only find out how long the others hold it.
			if res, err := s.limits.Check(ctx, key, l); err == nil && res.Limited &&
				res.RetryAfter > refused.RetryAfter {
				refused = &res
			}
			continue
		}
		res, err := s.limits.Admit(ctx, key, l)
		if err != nil {
			s.log.WarnContext(ctx, "throttle admit failed; allowing", slog.String("error", err.Error()))
			continue
		}
		if res.Count > l.Max {
			refused = &res
			continue
		}
		a.keys, a.ids = append(a.keys, key), append(a.ids, res.ID)
	}
	if refused != nil {
		s.forget(ctx, a)
		return attempt{}, throttled(*refused)
	}
	return a, nil
}

// forget gives an attempt's places back: it was not a failure. It goes on
// when the client has gone away, which would otherwise leave them taken.
func (s *Service) forget(ctx context.Context, a attempt) {
	ctx = context.WithoutCancel(ctx)
	for i, key := range a.keys {
		if err := s.limits.Forget(ctx, key, a.ids[i]); err != nil {
			s.log.WarnContext(ctx, "throttle forget failed", slog.String("error", err.Error()))
		}
	}
}

// loginSucceeded clears the account's failures and gives the attempt's place
// back under its other keys (its address): only failures count.
func (s *Service) loginSucceeded(ctx context.Context, a attempt, acct string) {
	rest := attempt{}
	for i, key := range a.keys {
		if key != acct {
			rest.keys, rest.ids = append(rest.keys, key), append(rest.ids, a.ids[i])
		}
	}
	s.forget(ctx, rest)
	if err := s.limits.Reset(context.WithoutCancel(ctx), acct); err != nil {
		s.log.WarnContext(ctx, "login: reset throttle", slog.String("error", err.Error()))
	}
}

// throttleRegistration counts a registration from ip and refuses it past the limit.
func (s *Service) throttleRegistration(ctx context.Context, ip string) error {
	key := registrationKey(ip)
	l := s.limitFor(key)
	// Admit, not Hit: a refused registration is not counted, so a flood of
	// them does not keep the address blocked.
	res, err := s.limits.Admit(ctx, key, l)
	if err != nil {
		s.log.WarnContext(ctx, "throttle admit failed; allowing", slog.String("error", err.Error()))
		return nil
	}
	if res.Count > l.Max {
		return throttled(res)
	}
	return nil
}

func throttled(res ratelimit.Result) error {
	e := *ErrThrottled
	e.Err, e.RetryAfter = ErrThrottled, res.RetryAfter
	return &e
}
