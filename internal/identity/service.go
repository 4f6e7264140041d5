package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/ratelimit"
	"emporium/internal/platform/sqldb"
)

// Service holds the identity use cases. It owns the transactions and writes
// events to the outbox inside them.
type Service struct {
	db     *sqldb.DB
	hasher *Hasher
	keys   *Keyring
	limits ratelimit.Store
	cfg    Config
	log    *slog.Logger
	now    func() time.Time // UTC, in the database's resolution (sqldb.Time)
	logKey []byte           // keys emailHash
}

// Session is what register, login and refresh answer.
type Session struct {
	User         *User  `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// Register creates a customer account and signs it in.
func (s *Service) Register(ctx context.Context, in RegisterRequest, clientIP string) (*Session, error) {
	if err := s.throttleRegistration(ctx, clientIP); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	now := s.now()
	u := &User{ID: uuid.Must(uuid.NewV7()).String(), Email: NormalizeEmail(in.Email), Name: in.Name,
		Phone: in.Phone, Roles: []string{RoleCustomer}, CreatedAt: now, UpdatedAt: now, passwordHash: hash}
	var sess *Session
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		if err := s.announce(ctx, tx, event.UserRegistered, u); err != nil {
			return err
		}
		sess, err = s.startSession(ctx, tx, u, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	s.audit(ctx, "user.registered", slog.String("user_id", u.ID), slog.String("ip", clientIP))
	return sess, nil
}

// Login checks an email and password and starts a session. Unknown emails and
// wrong passwords get the same answer after the same work. Attempts are
// counted per account and per address before the password is checked, and
// keep counting when they fail, so however many arrive at once at most the
// limit's worth are checked; a throttled account or address is refused even
// with the right password.
func (s *Service) Login(ctx context.Context, in LoginRequest, clientIP string) (*Session, error) {
	email := NormalizeEmail(in.Email)
	acct := loginAccountKey(email)
	a, err := s.admit(ctx, acct, loginAddressKey(clientIP))
	if err != nil {
		s.audit(ctx, "login.throttled", s.emailHash(email), slog.String("ip", clientIP))
		return nil, err
	}
	// An attempt that ends in an error was no guess: it gives its place back.
	abandon := func(err error) error {
		s.forget(ctx, a)
		return fmt.Errorf("login: %w", err)
	}
	u, err := userBy(ctx, s.db, "email", email)
	switch {
	case errors.Is(err, ErrUserNotFound):
		if err := s.hasher.VerifyDummy(ctx, in.Password); err != nil {
			return nil, abandon(err)
		}
		return nil, s.loginFailed(ctx, clientIP, "unknown email", s.emailHash(email))
	case err != nil:
		return nil, abandon(err)
	}
	ok, rehash, err := s.hasher.Verify(ctx, u.passwordHash, in.Password)
	if err != nil {
		return nil, abandon(err)
	}
	if !ok {
		return nil, s.loginFailed(ctx, clientIP, "wrong password", s.emailHash(email),
			slog.String("user_id", u.ID))
	}
	s.loginSucceeded(ctx, a, acct)
	var newHash string
	if rehash {
		if newHash, err = s.hasher.Hash(ctx, in.Password); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
	}
	now := s.now()
	var sess *Session
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		// The session carries the user as it is now, not as it was read
		// before the password check (roles may have changed meanwhile).
		cur, err := lockUser(ctx, tx, "id", u.ID)
		if err != nil {
			return err
		}
		if cur.passwordHash != u.passwordHash {
			return ErrInvalidCredentials // the password changed while it was checked
		}
		if newHash != "" {
			if err := updatePasswordHash(ctx, tx, cur, newHash, now); err != nil {
				return err
			}
		}
		sess, err = s.startSession(ctx, tx, cur, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	s.audit(ctx, "login.succeeded", slog.String("user_id", u.ID), slog.String("ip", clientIP),
		slog.Bool("hash_upgraded", newHash != ""))
	return sess, nil
}

// loginFailed answers a failed login, whose attempt keeps its place in the
// throttle's counts.
func (s *Service) loginFailed(ctx context.Context, ip, reason string, who ...slog.Attr) error {
	s.audit(ctx, "login.failed", append(who, slog.String("ip", ip), slog.String("reason", reason))...)
	return ErrInvalidCredentials
}

// emailHash is how a log line names an email (normalized) that may belong to
// no account: "email_hash", a keyed hash of it (HMAC-SHA-256, 128 bits,
// base64url) instead of the address, which is personal data. The lines about
// one address carry the same hash, so attacks on an account can be followed;
// the key comes from the key-encryption key, so that whoever reads the logs
// cannot tell whether they name an address they guess.
func (s *Service) emailHash(email string) slog.Attr {
	mac := hmac.New(sha256.New, s.logKey)
	mac.Write([]byte(email))
	return slog.String("email_hash", base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16]))
}

// logKeyFrom derives emailHash's key from the key-encryption key, keeping
// the two apart.
func logKeyFrom(kek []byte) []byte {
	mac := hmac.New(sha256.New, kek)
	mac.Write([]byte("emporium identity: emails in logs"))
	return mac.Sum(nil)
}

// Refresh exchanges a refresh token for a new pair. The token stops working;
// presenting it again revokes its whole family, since one of the two holders
// is not the user. The session and its user are read under their locks
// (lockSession), and the time after them: a revocation that committed first
// makes the refresh fail, one that comes later revokes the pair it answers.
func (s *Service) Refresh(ctx context.Context, token string) (*Session, error) {
	hash := hashRefreshToken(token)
	var sess *Session
	var reused *session
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		reused = nil
		sn, u, err := lockSession(ctx, tx, hash)
		if err != nil {
			return err
		}
		now := s.now()
		if sn.revokedAt.Valid || now.After(sn.tokenExpires) || now.After(sn.familyExpires) {
			return ErrInvalidRefreshToken
		}
		won := !sn.rotatedAt.Valid
		if won {
			if won, err = markRotated(ctx, tx, hash, now); err != nil {
				return err
			}
		}
		if !won {
			// Reuse: commit the family's revocation, then refuse.
			reused = sn
			return revokeFamily(ctx, tx, sn.familyID, "reuse", now)
		}
		sess, err = s.continueSession(ctx, tx, u, sn, now)
		return err
	})
	if err == nil && reused != nil {
		s.audit(ctx, "refresh.reuse_detected", slog.String("user_id", reused.userID),
			slog.String("family_id", reused.familyID))
		return nil, ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	s.audit(ctx, "refresh.succeeded", slog.String("user_id", sess.User.ID))
	return sess, nil
}

// Logout ends the session a refresh token belongs to, even if that token has
// expired or was rotated, or with all every session of its user and their
// access tokens. An unknown token ends nothing.
func (s *Service) Logout(ctx context.Context, token string, all bool) error {
	var userID string
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		now := s.now()
		sn, err := sessionByToken(ctx, tx, hashRefreshToken(token))
		if errors.Is(err, ErrInvalidRefreshToken) {
			return nil
		}
		if err != nil {
			return err
		}
		userID = sn.userID
		if !all {
			return revokeFamily(ctx, tx, sn.familyID, "logout", now)
		}
		u, err := lockUser(ctx, tx, "id", sn.userID)
		if err != nil {
			return err
		}
		return s.revokeEverything(ctx, tx, u, "logout_all", s.now())
	})
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if userID != "" {
		s.audit(ctx, "logout", slog.String("user_id", userID), slog.Bool("all", all))
	}
	return nil
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context, userID string) (*User, error) {
	u, err := userBy(ctx, s.db, "id", userID)
	if err != nil {
		return nil, fmt.Errorf("me: %w", err)
	}
	return u, nil
}

// UpdateMe changes the caller's name, phone and SMS consent.
func (s *Service) UpdateMe(ctx context.Context, userID string, in UpdateMeRequest) (*User, error) {
	var u *User
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		var err error
		if u, err = lockUser(ctx, tx, "id", userID); err != nil {
			return err
		}
		if !in.apply(u) {
			return nil
		}
		if u.SMSOptIn && u.Phone == nil {
			return errs.Invalidf("sms_opt_in", "needs a phone number")
		}
		u.UpdatedAt = s.now()
		if err := updateUser(ctx, tx, u); err != nil {
			return err
		}
		return s.announce(ctx, tx, event.UserUpdated, u)
	})
	if err != nil {
		return nil, fmt.Errorf("update me: %w", err)
	}
	return u, nil
}

// ChangePassword replaces the caller's password after checking the current one,
// and ends every session and access token of the user. Wrong current
// passwords count as failed logins of the account, with the same throttle.
func (s *Service) ChangePassword(ctx context.Context, userID string, in ChangePasswordRequest) error {
	u, err := userBy(ctx, s.db, "id", userID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	a, err := s.admit(ctx, loginAccountKey(u.Email))
	if err != nil {
		s.audit(ctx, "password.change_throttled", slog.String("user_id", userID))
		return err
	}
	ok, _, err := s.hasher.Verify(ctx, u.passwordHash, in.CurrentPassword)
	if err != nil {
		s.forget(ctx, a)
		return fmt.Errorf("change password: %w", err)
	}
	if !ok {
		s.audit(ctx, "password.change_refused", slog.String("user_id", userID))
		return ErrWrongPassword
	}
	s.forget(ctx, a)
	hash, err := s.hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		cur, err := lockUser(ctx, tx, "id", userID)
		if err != nil {
			return err
		}
		if cur.passwordHash != u.passwordHash {
			return ErrWrongPassword // changed by another request since it was checked
		}
		cur.passwordHash = hash
		return s.revokeEverything(ctx, tx, cur, "password_changed", s.now())
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	s.audit(ctx, "password.changed", slog.String("user_id", userID))
	return nil
}

// ListUsers lists accounts by id, optionally only the one with an email.
func (s *Service) ListUsers(ctx context.Context, email, after string, limit int) ([]*User, error) {
	users, err := listUsers(ctx, s.db, NormalizeEmail(email), after, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// SetRoles replaces a user's roles. The user's access tokens stop working, so
// the next refresh carries the new roles; the last admin keeps the admin role.
func (s *Service) SetRoles(ctx context.Context, adminID, userID string, roles []string) (*User, error) {
	var u *User
	var before []string
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		// One role change at a time, so that the count of admins below is
		// not changing under it: two admins demoting each other at once
		// would otherwise both see the other one still there.
		if err := lockRoleChanges(ctx, tx); err != nil {
			return err
		}
		var err error
		if u, err = lockUser(ctx, tx, "id", userID); err != nil {
			return err
		}
		before = u.Roles
		if slices.Equal(before, roles) {
			return nil
		}
		if u.IsAdmin() && !slices.Contains(roles, RoleAdmin) {
			n, err := countAdmins(ctx, tx)
			if err != nil {
				return err
			}
			if n <= 1 {
				return ErrLastAdmin
			}
		}
		u.Roles = roles
		// The time is read under the lock: a token signed before it by a
		// login or refresh that held the lock first is then revoked.
		return s.revokeAccess(ctx, tx, u, "roles_changed", s.now())
	})
	if err != nil {
		return nil, fmt.Errorf("set roles: %w", err)
	}
	s.audit(ctx, "roles.changed", slog.String("admin_id", adminID), slog.String("user_id", userID),
		slog.Any("from", before), slog.Any("to", roles))
	return u, nil
}

// startSession opens a new refresh-token family for u and signs the pair.
func (s *Service) startSession(ctx context.Context, tx *sqldb.Tx, u *User, now time.Time) (*Session, error) {
	sn := &session{familyID: uuid.Must(uuid.NewV7()).String(), userID: u.ID,
		familyExpires: now.Add(s.cfg.RefreshTTL)}
	if err := insertFamily(ctx, tx, sn.familyID, u.ID, now, sn.familyExpires); err != nil {
		return nil, err
	}
	return s.continueSession(ctx, tx, u, sn, now)
}

// continueSession adds the next refresh token to a family and signs the pair.
func (s *Service) continueSession(ctx context.Context, tx *sqldb.Tx, u *User, sn *session, now time.Time) (*Session, error) {
	token, hash := newRefreshToken()
	idle := now.Add(s.cfg.RefreshIdleTTL)
	if idle.After(sn.familyExpires) {
		idle = sn.familyExpires
	}
	if err := insertRefreshToken(ctx, tx, hash, sn.familyID, now, idle); err != nil {
		return nil, err
	}
	access, ttl, err := s.keys.mintAccess(u, now)
	if err != nil {
		return nil, err
	}
	return &Session{User: u, AccessToken: access, RefreshToken: token, TokenType: "Bearer",
		ExpiresIn: int(ttl / time.Second)}, nil
}

// revokeEverything ends every session of u and its access tokens, saving u,
// which the caller has locked (lockUser) and read inside tx.
func (s *Service) revokeEverything(ctx context.Context, tx *sqldb.Tx, u *User, cause string, now time.Time) error {
	if err := revokeUserFamilies(ctx, tx, u.ID, cause, now); err != nil {
		return err
	}
	return s.revokeAccess(ctx, tx, u, cause, now)
}

// revokeAccess makes every service refuse u's access tokens issued until now,
// saving u and announcing the revocation.
func (s *Service) revokeAccess(ctx context.Context, tx *sqldb.Tx, u *User, cause string, now time.Time) error {
	u.tokensNotBefore, u.UpdatedAt = revocationTime(now), now
	if err := updateUser(ctx, tx, u); err != nil {
		return err
	}
	env, err := event.New(event.UserTokensRevoked, event.IdentitySource,
		event.TokensRevoked{UserID: u.ID, NotBefore: u.tokensNotBefore, Reason: cause})
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, env)
}

// announce writes a user event with the contact data other services keep.
func (s *Service) announce(ctx context.Context, tx *sqldb.Tx, typ string, u *User) error {
	env, err := event.New(typ, event.IdentitySource, event.UserContact{
		UserID: u.ID, Email: u.Email, Name: u.Name, Phone: u.Phone, SMSOptIn: u.SMSOptIn})
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, env)
}

// audit logs a security event. It never carries passwords, tokens or hashes.
func (s *Service) audit(ctx context.Context, what string, attrs ...slog.Attr) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit", append([]slog.Attr{slog.String("event", what)}, attrs...)...)
}
