package notifications

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"emporium/internal/platform/bus"
)

// Email is an email as the service sends it.
type Email struct {
	ID      string `json:"id"` // the delivery's id; also the Message-ID's left part
	To      string `json:"to"`
	ToName  string `json:"to_name"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// Mailer sends emails: over SMTP, or into the outbox directory.
type Mailer interface {
	// SendEmail sends e, returning an error marked bus.Permanent when no
	// retry can deliver it.
	SendEmail(ctx context.Context, e Email) error
	// Provider names the mailer in the delivery log ("smtp", "file").
	Provider() string
}

// messageIDDomain is the right part of every Message-ID. The left part is the
// delivery's id, the same for every attempt, so that a mail sent twice (a
// crash between the send and its record) can be recognised as one.
const messageIDDomain = "notifications.emporium"

// newMsg builds e's MIME message: plain text with an HTML alternative.
func newMsg(from string, e Email) (*mail.Msg, error) {
	m := mail.NewMsg()
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("email from %q: %w", from, err)
	}
	if err := m.AddToFormat(e.ToName, e.To); err != nil {
		// An address that does not parse can never receive mail.
		return nil, bus.Permanent(fmt.Errorf("email to %q: %w", e.To, err))
	}
	m.Subject(e.Subject)
	m.SetMessageIDWithValue(e.ID + "@" + messageIDDomain)
	m.SetDate()
	m.SetBodyString(mail.TypeTextPlain, e.Text)
	m.AddAlternativeString(mail.TypeTextHTML, e.HTML)
	return m, nil
}

// SMTPMailer sends emails through an SMTP server with wneessen/go-mail, on a
// new connection per email, each bounded by the send timeout.
type SMTPMailer struct {
	host string
	opts []mail.Option
	from string
}

// NewSMTPMailer returns a mailer for the server rawURL names:
//
//	smtp://[user:password@]host[:port][?starttls=opportunistic|required|none][&auth=…]
//	smtps://[user:password@]host[:port][?auth=…]
//
// smtp:// speaks plain SMTP and upgrades with STARTTLS (port 587 when none is
// given): starttls=opportunistic (the default) upgrades when the server
// offers it, required refuses a server that does not, none never upgrades.
// smtps:// is TLS from the first byte (port 465 by default). With a user,
// the mailer authenticates with auth=plain (the default), login, cram-md5,
// scram-sha-256 or auto (the strongest the server offers). PLAIN and LOGIN
// are never sent over an unencrypted connection except to a loopback
// address: set starttls=required for any server beyond this machine.
// tlsConfig, when not nil, replaces the default TLS settings (tests trust
// their own certificate authority with it).
func NewSMTPMailer(rawURL, from string, timeout time.Duration, tlsConfig *tls.Config) (*SMTPMailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("SMTP_URL is not a URL")
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("SMTP_URL has no host")
	}
	opts := []mail.Option{mail.WithTimeout(timeout)}
	if tlsConfig != nil {
		cfg := tlsConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		opts = append(opts, mail.WithTLSConfig(cfg))
	}
	q := u.Query()
	port := 587
	switch u.Scheme {
	case "smtp":
		policy := mail.TLSOpportunistic
		switch q.Get("starttls") {
		case "", "opportunistic":
		case "required":
			policy = mail.TLSMandatory
		case "none":
			policy = mail.NoTLS
		default:
			return nil, errors.New("SMTP_URL: starttls must be opportunistic, required or none")
		}
		opts = append(opts, mail.WithTLSPolicy(policy))
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	default:
		return nil, errors.New("SMTP_URL must be an smtp:// or smtps:// URL")
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, errors.New("SMTP_URL has a bad port")
		}
	}
	opts = append(opts, mail.WithPort(port))
	if user := u.User.Username(); user != "" {
		password, _ := u.User.Password()
		authType, err := smtpAuth(q.Get("auth"))
		if err != nil {
			return nil, err
		}
		opts = append(opts, mail.WithSMTPAuth(authType), mail.WithUsername(user),
			mail.WithPassword(password))
	} else if q.Get("auth") != "" {
		return nil, errors.New("SMTP_URL: auth needs a user and password")
	}
	// Build a client once to check the options; each send builds its own.
	if _, err := mail.NewClient(host, opts...); err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	if err := mail.NewMsg().From(from); err != nil {
		return nil, fmt.Errorf("NOTIFICATIONS_EMAIL_FROM: %w", err)
	}
	return &SMTPMailer{host: host, opts: opts, from: from}, nil
}

func smtpAuth(name string) (mail.SMTPAuthType, error) {
	switch strings.ToLower(name) {
	case "", "plain":
		return mail.SMTPAuthPlain, nil
	case "login":
		return mail.SMTPAuthLogin, nil
	case "cram-md5":
		return mail.SMTPAuthCramMD5, nil
	case "scram-sha-256":
		return mail.SMTPAuthSCRAMSHA256, nil
	case "auto":
		return mail.SMTPAuthAutoDiscover, nil
	}
	return "", errors.New("SMTP_URL: auth must be plain, login, cram-md5, scram-sha-256 or auto")
}

// Provider is "smtp".
func (m *SMTPMailer) Provider() string { return ProviderSMTP }

// SendEmail sends e in one SMTP conversation. A recipient the server refuses
// with a permanent (5xx) reply is a permanent error; anything else — the
// server unreachable, a 4xx, a timeout — may succeed later.
func (m *SMTPMailer) SendEmail(ctx context.Context, e Email) error {
	msg, err := newMsg(m.from, e)
	if err != nil {
		return err
	}
	c, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if msg.IsDelivered() {
		// The server took the message; what failed after (RSET, QUIT) does
		// not make it undelivered, and a retry would send it twice.
		return nil
	}
	if err == nil {
		return errors.New("smtp: the message was not delivered")
	}
	var sendErr *mail.SendError
	if errors.As(err, &sendErr) && sendErr.Reason == mail.ErrSMTPRcptTo && !sendErr.IsTemp() {
		return bus.Permanent(fmt.Errorf("smtp: %w", err))
	}
	return fmt.Errorf("smtp: %w", err)
}
