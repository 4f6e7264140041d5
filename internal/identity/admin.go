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

// EnsureAdmin makes the account with email an admin: it creates it with
// password when there is none, or adds the admin role to an existing account
// (whose password it leaves alone). Running it again changes nothing. It
// reports whether anything changed.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	email = NormalizeEmail(email)
	var v errs.Validation
	checkEmail(&v, "email", email)
	checkPassword(&v, "password", password)
	if err := v.Err(); err != nil {
		return false, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return false, err
	}
	now := s.now().UTC()
	changed := false
	err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		changed = false
		u, err := userBy(ctx, tx, "email", email)
		if errors.Is(err, ErrUserNotFound) {
			u = &User{ID: uuid.Must(uuid.NewV7()).String(), Email: email, Name: "Administrator",
				Roles: []string{RoleAdmin, RoleCustomer}, CreatedAt: now, UpdatedAt: now, passwordHash: hash}
			changed = true
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
			return s.announce(ctx, tx, event.UserRegistered, u)
		}
		if err != nil || u.IsAdmin() {
			return err
		}
		changed = true
		u.Roles = append(slices.Clone(u.Roles), RoleAdmin)
		slices.Sort(u.Roles)
		return s.revokeAccess(ctx, tx, u, "roles_changed", now)
	})
	if err != nil {
		return false, fmt.Errorf("ensure admin: %w", err)
	}
	if changed {
		s.audit(ctx, "admin.ensured", slog.String("email", email))
	}
	return changed, nil
}
