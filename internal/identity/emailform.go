package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"emporium/internal/event"
	"emporium/internal/platform/sqldb"
)

// normalizeStoredEmails brings the emails stored before NormalizeEmail's
// form (queued by migration 00002) into it, announcing each changed one as a
// profile update, the oldest account first. It runs at start, before the
// service answers; what it has done stays done, so a start that fails half
// way, or replicas that start together, leave nothing wrong.
//
// Two accounts whose old emails have the same normal form cannot both have
// it. The one whose email already is in the form keeps it; otherwise the
// oldest account takes it. Every other one keeps its row and its email as it
// was stored, and is logged (by id) for an admin to settle: a login, whose
// email is normalized, finds the account that holds the form and never one of
// these, so no one signs in to an account that was not registered with the
// address they type.
func (s *Service) normalizeStoredEmails(ctx context.Context) error {
	for {
		ids, err := queuedEmailNormalizations(ctx, s.db, 100)
		if err != nil {
			return fmt.Errorf("normalize stored emails: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			if err := s.normalizeStoredEmail(ctx, id); err != nil {
				return fmt.Errorf("normalize stored emails: %w", err)
			}
		}
	}
}

// normalizeStoredEmail is normalizeStoredEmails for one account.
func (s *Service) normalizeStoredEmail(ctx context.Context, userID string) error {
	var kept bool     // another account has the normal form
	var holder string // which one, when known
	err := s.db.Tx(ctx, func(tx *sqldb.Tx) error {
		kept, holder = false, ""
		u, err := lockUser(ctx, tx, "id", userID)
		if err != nil {
			return err
		}
		email := NormalizeEmail(u.Email)
		if email != u.Email {
			other, err := userBy(ctx, tx, "email", email)
			switch {
			case err == nil:
				kept, holder = true, other.ID
			case !errors.Is(err, ErrUserNotFound):
				return err
			default:
				u.Email, u.UpdatedAt = email, s.now()
				if err := updateEmail(ctx, tx, u); err != nil {
					return err
				}
				if err := s.announce(ctx, tx, event.UserUpdated, u); err != nil {
					return err
				}
			}
		}
		return dequeueEmailNormalization(ctx, tx, userID)
	})
	if errors.Is(err, ErrEmailTaken) {
		// Another replica gave the form to another account meanwhile.
		kept = true
		err = s.db.Tx(ctx, func(tx *sqldb.Tx) error {
			return dequeueEmailNormalization(ctx, tx, userID)
		})
	}
	if err != nil {
		return err
	}
	if kept {
		s.log.WarnContext(ctx, "an account keeps an email that is not in the normal form, "+
			"which another account has; logins find that one", slog.String("user_id", userID),
			slog.String("holder_id", holder))
	}
	return nil
}
