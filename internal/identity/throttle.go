package identity

import (
	"context"
	"log/slog"
	"strings"

	"emporium/internal/platform/ratelimit"
)

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

// checkThrottle refuses a login while its account or address is throttled.
// When the store cannot answer, the login goes ahead: an outage of the
// counters must not lock every customer out.
func (s *Service) checkThrottle(ctx context.Context, keys ...string) error {
	for _, key := range keys {
		res, err := s.limits.Check(ctx, key, s.limitFor(key))
		if err != nil {
			s.log.WarnContext(ctx, "throttle check failed; allowing", slog.String("error", err.Error()))
			continue
		}
		if res.Limited {
			return throttled(res)
		}
	}
	return nil
}

// throttleRegistration counts a registration from ip and refuses it past the limit.
func (s *Service) throttleRegistration(ctx context.Context, ip string) error {
	key := "register:addr:" + ip
	l := s.limitFor(key)
	res, err := s.limits.Hit(ctx, key, l)
	if err != nil {
		s.log.WarnContext(ctx, "throttle hit failed; allowing", slog.String("error", err.Error()))
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
