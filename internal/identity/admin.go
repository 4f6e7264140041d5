package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/uuid"

	"emporium/internal/event"
	"emporium/internal/platform/errs"
	"emporium/internal/platform/sqldb"
)

// ErrAccountExists refuses to make an existing account an admin with a
// password that is not the account's: whoever registered the email first
// would otherwise become an admin with a password of their choosing.
var ErrAccountExists = errs.New(errs.Conflict, "account_exists",
	"an account with this email exists with another password; give that account's password "+
		"to make it an admin")

// EnsureAdmin makes the account with email an admin: it creates it with
// password when there is none, and adds the admin role to an existing
// account only when password is that account's password (ErrAccountExists
// otherwise; the password is left as it is). Running it again changes
// nothing. It reports whether anything changed.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	changed, err := s.ensureAdmin(ctx, email, password, false)
	if err != nil {
		return false, fmt.Errorf("ensure admin: %w", err)
	}
	return changed, nil
}

// bootstrapAdmin is EnsureAdmin for the configured first admin, at every
// start: it acts only while the shop has no admin at all, so that once there
// is one, the admins alone decide who is one (an admin they demoted stays
// demoted when the service restarts).
func (s *Service) bootstrapAdmin(ctx context.Context, email, password string) (bool, error) {
	n, err := countAdmins(ctx, s.db)
	if err != nil || n > 0 {
		return false, err
	}
	return s.ensureAdmin(ctx, email, password, true)
}

func (s *Service) ensureAdmin(ctx context.Context, email, password string,
	onlyFirst bool) (bool, error) {
	email = NormalizeEmail(email)
	var v errs.Validation
	checkEmail(&v, "email", email)
	checkPassword(&v, "password", password)
	if err := v.Err(); err != nil {
		return false, err
	}
	// The slow hashing happens before the transaction: a new account's hash,
	// or the check of an existing account's password.
	existing, err := userBy(ctx, s.db, "email", email)
	var hash string
	switch {
	case errors.Is(err, ErrUserNotFound):
		existing = nil
		if hash, err = s.hasher.Hash(ctx, password); err != nil {
			return false, err
		}
	case err != nil:
		return false, err
	default:
		ok, _, err := s.hasher.Verify(ctx, existing.passwordHash, password)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, ErrAccountExists
		}
	}
	changed, userID := false, ""
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		changed, userID = false, ""
		if err := lockRoleChanges(ctx, tx); err != nil {
			return err
		}
		if onlyFirst {
			if n, err := countAdmins(ctx, tx); err != nil || n > 0 {
				return err
			}
		}
		now := s.now()
		u, err := lockUser(ctx, tx, "email", email)
		switch {
		case errors.Is(err, ErrUserNotFound) && existing == nil:
			u = &User{ID: uuid.Must(uuid.NewV7()).String(), Email: email, Name: "Administrator",
				Roles: []string{RoleAdmin, RoleCustomer}, CreatedAt: now, UpdatedAt: now,
				passwordHash: hash}
			changed, userID = true, u.ID
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
			return s.announce(ctx, tx, event.UserRegistered, u)
		case err != nil:
			return err
		case existing == nil || u.passwordHash != existing.passwordHash:
			// Registered, or its password changed, since the password was
			// checked: it was not checked against this one.
			return ErrAccountExists
		case u.IsAdmin():
			return nil
		}
		changed, userID = true, u.ID
		u.Roles = append(slices.Clone(u.Roles), RoleAdmin)
		slices.Sort(u.Roles)
		return s.revokeAccess(ctx, tx, u, "roles_changed", now)
	})
	if err != nil {
		return false, err
	}
	if changed {
		s.audit(ctx, "admin.ensured", slog.String("user_id", userID))
	}
	return changed, nil
}
