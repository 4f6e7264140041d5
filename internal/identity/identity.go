// Package identity is the identity service: registration and login with
// argon2id password hashes, EdDSA access tokens verified by every service
// through the JWKS, rotating refresh tokens with reuse detection, login
// throttling, and the admin's user and role management.
package identity

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"emporium/internal/platform/errs"
)

// The roles a user can hold.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// User is an account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Phone     *string   `json:"phone"`
	SMSOptIn  bool      `json:"sms_opt_in"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"-"`

	passwordHash    string
	tokensNotBefore time.Time // zero when never revoked
}

// IsAdmin reports whether u holds the admin role.
func (u *User) IsAdmin() bool { return slices.Contains(u.Roles, RoleAdmin) }

// The service's errors, with API.md's codes.
var (
	ErrEmailTaken          = errs.New(errs.Conflict, "email_taken", "an account with this email already exists")
	ErrInvalidCredentials  = errs.New(errs.Unauthenticated, "invalid_credentials", "the email or password is wrong")
	ErrWrongPassword       = errs.New(errs.Forbidden, "invalid_credentials", "the current password is wrong")
	ErrInvalidRefreshToken = errs.New(errs.Unauthenticated, "invalid_refresh_token", "the refresh token is invalid or expired")
	ErrUserNotFound        = errs.New(errs.NotFound, "not_found", "no such user")
	ErrLastAdmin           = errs.New(errs.Conflict, "last_admin", "the last admin cannot lose the admin role")
	ErrThrottled           = errs.New(errs.RateLimited, "rate_limited", "too many attempts; try again later")
)

// NormalizeEmail returns the form in which an email is stored, compared and
// answered: Unicode NFKC, then full case folding, then NFKC again (folding
// can undo a normal form), trimmed of white space. So "José" spelt with a
// combining accent or precomposed, a fullwidth "ａda", "ADA" and "ada" are
// one address; folding also makes "ß" "ss". The result is a fixed point: it
// normalizes to itself. Accounts stored before this form are brought into it
// at start (normalizeStoredEmails).
func NormalizeEmail(s string) string {
	// A Caser keeps state, so each call makes its own.
	folded := cases.Fold().String(norm.NFKC.String(s))
	return strings.TrimSpace(norm.NFKC.String(folded))
}

// maxEmailLen is the longest email an account can have, in bytes.
const maxEmailLen = 254

// checkEmail records a problem with an already normalized email.
func checkEmail(v *errs.Validation, field, email string) {
	if email == "" {
		v.Add(field, "is required")
		return
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > maxEmailLen || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		v.Add(field, "is not a valid email address")
	}
}

// Password length limits, counted in characters.
const (
	minPasswordLen = 8
	maxPasswordLen = 128
)

func checkPassword(v *errs.Validation, field, pw string) {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < minPasswordLen:
		v.Add(field, "must be at least 8 characters")
	case n > maxPasswordLen:
		v.Add(field, "must be at most 128 characters")
	case isCommonPassword(pw):
		v.Add(field, "is one of the most common passwords; choose another")
	}
}

func checkName(v *errs.Validation, field, name string) {
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n < 1 || n > 100 {
		v.Add(field, "must be 1 to 100 characters")
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func checkPhone(v *errs.Validation, field, phone string) {
	if !e164.MatchString(phone) {
		v.Add(field, "must be an E.164 number such as +14155550100")
	}
}

// normalizeRoles sorts and dedupes roles, refusing unknown ones and an empty set.
func normalizeRoles(v *errs.Validation, field string, roles []string) []string {
	out := []string{}
	for _, r := range roles {
		if r != RoleCustomer && r != RoleAdmin {
			v.Add(field, `roles are "customer" and "admin"`)
			return nil
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		v.Add(field, "must hold at least one role")
	}
	slices.Sort(out)
	return out
}
