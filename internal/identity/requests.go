package identity

import (
	"strings"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

// RegisterRequest is the body of POST /api/v1/auth/register. There is no
// roles field: a body that sends one is refused as an unknown field.
type RegisterRequest struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Name     string  `json:"name"`
	Phone    *string `json:"phone"`
}

// Validate normalizes the email and name and checks every field.
func (r *RegisterRequest) Validate() error {
	var v errs.Validation
	r.Email, r.Name = NormalizeEmail(r.Email), strings.TrimSpace(r.Name)
	checkEmail(&v, "email", r.Email)
	checkPassword(&v, "password", r.Password)
	checkName(&v, "name", r.Name)
	if r.Phone != nil {
		checkPhone(&v, "phone", *r.Phone)
	}
	return v.Err()
}

// LoginRequest is the body of POST /api/v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Validate checks that both fields are present; the password rules apply to
// new passwords only. An email far longer than any account's is refused
// before it is normalized (which can make it longer still) and counted.
func (r *LoginRequest) Validate() error {
	var v errs.Validation
	v.Check(strings.TrimSpace(r.Email) != "", "email", "is required")
	v.Check(len(r.Email) <= 4*maxEmailLen, "email", "is too long")
	v.Check(r.Password != "", "password", "is required")
	v.Check(len(r.Password) <= 4*maxPasswordLen, "password", "is too long")
	return v.Err()
}

// RefreshRequest is the body of POST /api/v1/auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// Validate checks that the token is present.
func (r *RefreshRequest) Validate() error {
	var v errs.Validation
	v.Check(r.RefreshToken != "", "refresh_token", "is required")
	return v.Err()
}

// LogoutRequest is the body of POST /api/v1/auth/logout.
type LogoutRequest struct {
	RefreshToken string `json:"refresh_token"`
	All          bool   `json:"all"`
}

// Validate checks that the token is present.
func (r *LogoutRequest) Validate() error {
	var v errs.Validation
	v.Check(r.RefreshToken != "", "refresh_token", "is required")
	return v.Err()
}

// UpdateMeRequest is the body of PATCH /api/v1/users/me: absent fields stay
// as they are; a null phone removes the phone.
type UpdateMeRequest struct {
	Name     web.Optional[string] `json:"name"`
	Phone    web.Optional[string] `json:"phone"`
	SMSOptIn web.Optional[bool]   `json:"sms_opt_in"`
}

// Validate checks the fields that are present.
func (r *UpdateMeRequest) Validate() error {
	var v errs.Validation
	if r.Name.Set {
		r.Name.Value = strings.TrimSpace(r.Name.Value)
		v.Check(!r.Name.Null, "name", "cannot be null")
		if !r.Name.Null {
			checkName(&v, "name", r.Name.Value)
		}
	}
	if r.Phone.Set && !r.Phone.Null {
		checkPhone(&v, "phone", r.Phone.Value)
	}
	v.Check(!r.SMSOptIn.Null, "sms_opt_in", "cannot be null")
	return v.Err()
}

// apply changes u as the request says and reports whether anything changed.
func (r *UpdateMeRequest) apply(u *User) bool {
	changed := false
	if r.Name.Set && u.Name != r.Name.Value {
		u.Name, changed = r.Name.Value, true
	}
	if r.Phone.Set {
		switch {
		case r.Phone.Null && u.Phone != nil:
			u.Phone, changed = nil, true
		case !r.Phone.Null && (u.Phone == nil || *u.Phone != r.Phone.Value):
			phone := r.Phone.Value
			u.Phone, changed = &phone, true
		}
	}
	switch {
	case r.SMSOptIn.Set && u.SMSOptIn != r.SMSOptIn.Value:
		u.SMSOptIn, changed = r.SMSOptIn.Value, true
	case !r.SMSOptIn.Set && u.Phone == nil && u.SMSOptIn:
		u.SMSOptIn, changed = false, true // no phone, no SMS
	}
	return changed
}

// ChangePasswordRequest is the body of POST /api/v1/users/me/password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// Validate checks the new password against the rules.
func (r *ChangePasswordRequest) Validate() error {
	var v errs.Validation
	v.Check(r.CurrentPassword != "", "current_password", "is required")
	checkPassword(&v, "new_password", r.NewPassword)
	return v.Err()
}

// SetRolesRequest is the body of PUT /api/v1/admin/users/{id}/roles.
type SetRolesRequest struct {
	Roles []string `json:"roles"`
}

// Validate sorts and dedupes the roles and refuses unknown ones.
func (r *SetRolesRequest) Validate() error {
	var v errs.Validation
	r.Roles = normalizeRoles(&v, "roles", r.Roles)
	return v.Err()
}
