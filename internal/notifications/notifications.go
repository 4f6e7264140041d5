// Package notifications is the notifications service: it writes to customers
// about what happens to their account, orders and payments — an email for
// each event API.md lists, and an SMS for paid, shipped and cancelled orders
// to customers who opted in — and keeps a delivery log that customers read
// (recipients masked) and admins read whole.
//
// How a message travels:
//
//  1. An event arrives through a durable consumer (one per source stream,
//     each with one wildcard filter subject: identity.user.*, orders.order.*,
//     payments.payment.*). In one transaction with the inbox row that makes
//     it idempotent, the service renders the message from embedded templates,
//     records a delivery per channel ('pending'; unique per event id and
//     channel, so a redelivered event never sends twice) and an effect
//     (package effect) that sends it.
//  2. An effect runner sends each recorded delivery from that record: through
//     SMTP (wneessen/go-mail) and Twilio (twilio/twilio-go), or, when they are
//     not configured, into an outbox directory (.eml files, and SMS as JSON
//     lines) — provider 'file'. A crash between receiving the event and
//     sending loses nothing; a crash in the middle of a send may repeat that
//     one message, which carries the same Message-ID.
//  3. A failed send is retried with exponential backoff and jitter (5 tries by
//     default). A permanent failure — an address the SMTP server refuses with a
//     5xx, a 4xx from Twilio other than 429 — is not retried. After the last
//     try the delivery is 'failed' with last_error, and the event is published
//     to the dead-letter subject deadletter.notifications-<channel>.<event type>.
//
// Contacts are a projection of identity.user.registered and
// identity.user.updated (email, name, phone, SMS consent); the service never
// reads identity's tables. Events from different streams arrive in any order,
// so an order or payment event may come before its customer's contact: it is
// held, and sent as soon as the contact arrives. An event still without a
// contact after Config.ContactWait (24h by default) is recorded as a failed
// email delivery with error code contact_unknown and dead-lettered.
//
// A per-customer quota (Config.Quota messages per Config.QuotaWindow, 20 an
// hour by default) stops a storm of events from flooding a person: a message
// past it is recorded 'failed' with error code quota_exceeded and not sent.
package notifications

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Channels a message goes out on.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Delivery statuses.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
)

// Providers a delivery is sent through.
const (
	ProviderSMTP   = "smtp"
	ProviderTwilio = "twilio"
	ProviderFile   = "file" // the outbox directory, when no provider is configured
)

// Error codes of a delivery: what went wrong, in words a customer may read.
// Admins also see last_error, the provider's own answer.
const (
	// ErrorCodeRetrying: the last attempt failed; the message will be tried again.
	ErrorCodeRetrying = "retrying"
	// ErrorCodeRejected: the provider refused the message for good (an invalid
	// address or number); it was not retried.
	ErrorCodeRejected = "rejected"
	// ErrorCodeGaveUp: every attempt failed.
	ErrorCodeGaveUp = "gave_up"
	// ErrorCodeQuota: not sent, past the customer's quota.
	ErrorCodeQuota = "quota_exceeded"
	// ErrorCodeNoContact: not sent, no contact details arrived in time.
	ErrorCodeNoContact = "contact_unknown"
)

// publicErrors are the texts customers see in last_error, by error code; an
// admin sees the detail (an SMTP reply, Twilio's error) instead. The detail
// may name internal hosts, which never reach a customer.
var publicErrors = map[string]string{
	ErrorCodeRetrying:  "a temporary failure; the message will be tried again",
	ErrorCodeRejected:  "the recipient was refused by the provider",
	ErrorCodeGaveUp:    "the message could not be delivered",
	ErrorCodeQuota:     "not sent: too many messages to this customer in a short time",
	ErrorCodeNoContact: "not sent: no contact details were known for this customer",
}

// Delivery is one message to one recipient on one channel, caused by one
// event: the delivery log's entry.
type Delivery struct {
	ID         string     `json:"id"`
	EventID    string     `json:"event_id"`
	EventType  string     `json:"event_type"`
	Channel    string     `json:"channel"`
	CustomerID string     `json:"customer_id"`
	Recipient  string     `json:"recipient"`
	Subject    string     `json:"subject"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	Provider   *string    `json:"provider"`
	ErrorCode  *string    `json:"error_code"`
	LastError  *string    `json:"last_error"`
	CreatedAt  time.Time  `json:"created_at"`
	SentAt     *time.Time `json:"sent_at"`
}

// ForCustomer is the delivery as its customer sees it: the recipient masked,
// and last_error in the words of its error code rather than the provider's.
func (d Delivery) ForCustomer() Delivery {
	if d.Channel == ChannelSMS {
		d.Recipient = MaskPhone(d.Recipient)
	} else {
		d.Recipient = MaskEmail(d.Recipient)
	}
	if d.ErrorCode != nil {
		text := publicErrors[*d.ErrorCode]
		d.LastError = &text
	} else {
		d.LastError = nil
	}
	return d
}

// Contact is what the service knows of how to reach a customer, from the
// identity service's events.
type Contact struct {
	UserID   string
	Email    string
	Name     string
	Phone    string // E.164, or "" when the customer gave none
	SMSOptIn bool
	// AsOf is the time of the identity event it was taken from: an older
	// event that arrives later does not overwrite it.
	AsOf time.Time
}

// wantsSMS reports whether the customer may be sent an SMS.
func (c *Contact) wantsSMS() bool { return c.SMSOptIn && c.Phone != "" }

// MaskEmail keeps the first character of an email's local part and its
// domain: j***@example.com. The stars are always three, whatever the length
// of what they hide, so the mask does not tell it.
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok {
		return "***"
	}
	first, size := utf8.DecodeRuneInString(local)
	if size == 0 {
		return "***@" + domain
	}
	return string(first) + "***@" + domain
}

// MaskPhone keeps the last four digits of a phone number and puts a star
// for each digit it hides, keeping the leading +: +14155550100 becomes
// +*******0100. A number of four digits or fewer is left as it is.
func MaskPhone(phone string) string {
	digits := 0
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	var b strings.Builder
	seen := 0
	for _, r := range phone {
		switch {
		case r >= '0' && r <= '9':
			seen++
			if seen <= digits-4 {
				b.WriteByte('*')
			} else {
				b.WriteRune(r)
			}
		case r == '+':
			b.WriteRune(r)
		}
	}
	return b.String()
}
