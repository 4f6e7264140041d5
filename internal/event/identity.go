package event

import "time"

// The identity service's event types.
const (
	UserRegistered    = "identity.user.registered"
	UserUpdated       = "identity.user.updated"
	UserTokensRevoked = "identity.user.tokens_revoked"
)

// IdentitySource is the source of the identity service's events.
const IdentitySource = "identity"

// UserContact is the data of identity.user.registered and identity.user.updated:
// what the notification service needs to reach the user.
type UserContact struct {
	UserID   string  `json:"user_id"`
	Email    string  `json:"email"`
	Name     string  `json:"name"`
	Phone    *string `json:"phone"`
	SMSOptIn bool    `json:"sms_opt_in"`
}

// TokensRevoked is the data of identity.user.tokens_revoked: every service
// refuses the user's access tokens issued before NotBefore.
type TokensRevoked struct {
	UserID    string    `json:"user_id"`
	NotBefore time.Time `json:"not_before"`
	Reason    string    `json:"reason"`
}
