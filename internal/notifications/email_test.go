package notifications

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"emporium/internal/event"
	"emporium/internal/notifications/notifytest"
	"emporium/internal/platform/bus"
	"emporium/internal/platform/testkit"
)

// A registration is welcomed by email over a real SMTP conversation, and an
// order's payment confirmed with its lines and total; the test reads each
// message as a mail client would.
func TestEmailsOverSMTP(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
		e := start(t, dbURL, func(c *Config) { c.SMTPURL = mailSrv.URL("") })

		welcome := registered(t, "user-1", "jane@example.com", "Jane Doe", "", false)
		e.publish(welcome)
		d := e.waitDeliveries(welcome.ID, 1)[0]
		if d.Status != StatusSent || *d.Provider != ProviderSMTP || d.Attempts != 1 ||
			d.Recipient != "jane@example.com" || d.Subject != "Welcome to Emporium" ||
			d.SentAt == nil || d.EventType != event.UserRegistered || d.Channel != ChannelEmail {
			t.Errorf("welcome delivery = %+v", d)
		}
		mails := mailSrv.Mails()
		if len(mails) != 1 {
			t.Fatalf("the server received %d mails, want 1", len(mails))
		}
		if mails[0].From != "no-reply@emporium.example" ||
			strings.Join(mails[0].To, ",") != "jane@example.com" {
			t.Errorf("envelope from %s to %v", mails[0].From, mails[0].To)
		}
		m := notifytest.ParseMail(t, mails[0].Data)
		if m.Subject != "Welcome to Emporium" || m.To != `"Jane Doe" <jane@example.com>` ||
			m.MessageID != "<"+d.ID+"@"+messageIDDomain+">" {
			t.Errorf("headers: subject %q, to %q, message id %q", m.Subject, m.To, m.MessageID)
		}
		if !strings.Contains(m.Text, "Hi Jane Doe,") || !strings.Contains(m.HTML, "<p>Hi Jane Doe,</p>") {
			t.Errorf("bodies:\n%s\n%s", m.Text, m.HTML)
		}

		paid := orderEvent(t, event.OrderPaid, "user-1", nil)
		e.publish(paid)
		d = e.waitDeliveries(paid.ID, 1)[0]
		if d.Status != StatusSent || d.Subject != "Order EMP-10042 is confirmed" {
			t.Errorf("order paid delivery = %+v", d)
		}
		mails = mailSrv.Mails()
		if len(mails) != 2 {
			t.Fatalf("the server received %d mails, want 2", len(mails))
		}
		m = notifytest.ParseMail(t, mails[1].Data)
		for _, want := range []string{"2 x Coffee mug (MUG-1)  $12.50 each  $25.00",
			"Total:    $2,024.99"} {
			if !strings.Contains(m.Text, want) {
				t.Errorf("text body lacks %q:\n%s", want, m.Text)
			}
		}
		for _, want := range []string{"Coffee mug", "<strong>$2,024.99</strong>",
			"Tee &#34;Bold&#34; &lt;b&gt;&amp;&lt;/b&gt; co"} {
			if !strings.Contains(m.HTML, want) {
				t.Errorf("HTML body lacks %q:\n%s", want, m.HTML)
			}
		}
	})
}

// SMTP with AUTH PLAIN: over STARTTLS (required), the server's certificate
// checked; and without TLS to a server on loopback, the one place PLAIN
// may travel unencrypted. Wrong credentials are refused and retried.
func TestSMTPAuth(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := notifytest.SelfSigned(t)
	for _, tt := range []struct {
		name  string
		tls   bool
		query string
	}{
		{"starttls", true, "starttls=required"},
		{"loopback", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := notifytest.SMTPOptions{User: "mailer", Password: "s3cret"}
			if tt.tls {
				opts.TLS = serverTLS
			}
			mailSrv := notifytest.NewSMTPServer(t, opts)
			e := start(t, sqliteURL(t), func(c *Config) {
				c.SMTPURL, c.smtpTLS = mailSrv.URL(tt.query), clientTLS
			})
			ev := registered(t, "user-1", "jane@example.com", "Jane", "", false)
			e.publish(ev)
			if d := e.waitDeliveries(ev.ID, 1)[0]; d.Status != StatusSent {
				t.Fatalf("delivery = %+v, last_error %s", d, deref(d.LastError))
			}
			if mailSrv.UsedTLS() != tt.tls || len(mailSrv.Mails()) != 1 {
				t.Errorf("tls %v, %d mails; want tls %v", mailSrv.UsedTLS(), len(mailSrv.Mails()),
					tt.tls)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{User: "mailer",
			Password: "s3cret"})
		e := start(t, sqliteURL(t), func(c *Config) {
			c.SMTPURL = strings.Replace(mailSrv.URL(""), "s3cret", "wrong", 1)
			c.MaxAttempts = 2
		})
		ev := registered(t, "user-1", "jane@example.com", "Jane", "", false)
		e.publish(ev)
		d := e.waitDeliveries(ev.ID, 1)[0]
		if d.Status != StatusFailed || d.Attempts != 2 || !strings.Contains(deref(d.LastError), "535") {
			t.Errorf("delivery = %+v, last_error %s", d, deref(d.LastError))
		}
	})
}

// An SMTP server that refuses every attempt: the message is tried five
// times, then the delivery is failed with the server's answer, and the event
// is dead-lettered.
func TestSMTPRefusingFiveTimesFails(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
		mailSrv.Refuse(func(int) *smtp.SMTPError {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
				Message: "mailbox busy, try again later"}
		})
		e := start(t, dbURL, func(c *Config) { c.SMTPURL = mailSrv.URL("") })
		ev := registered(t, "user-1", "jane@example.com", "Jane", "", false)
		e.publish(ev)
		d := e.waitDeliveries(ev.ID, 1)[0]
		if d.Status != StatusFailed || d.Attempts != 5 || *d.ErrorCode != ErrorCodeGaveUp ||
			d.LastError == nil || !strings.Contains(*d.LastError, "451") || d.SentAt != nil {
			t.Errorf("delivery = %+v, last_error %v", d, deref(d.LastError))
		}
		if n := mailSrv.DataCommands(); n != 5 {
			t.Errorf("the server was tried %d times, want 5", n)
		}
		var dl = waitDeadLetter(t, e, "deadletter.notifications-email."+event.UserRegistered)
		if dl.Header.Get(bus.HeaderDeadMsgID) != ev.ID ||
			!strings.Contains(dl.Header.Get(bus.HeaderDeadError), "451") ||
			dl.Header.Get(bus.HeaderDeadDeliveries) != "5" ||
			dl.Header.Get(HeaderDeadDelivery) != d.ID {
			t.Errorf("dead letter headers %v", dl.Header)
		}
		var got event.Envelope
		decodeJSON(t, dl.Data, &got)
		if got.ID != ev.ID || got.Type != ev.Type {
			t.Errorf("dead letter carries %s %s, want the event", got.Type, got.ID)
		}
		// The customer sees why in words of their own, not the server's answer.
		mine := e.deliveries("user-1", nil)
		if len(mine) != 1 || deref(mine[0].LastError) != publicErrors[ErrorCodeGaveUp] ||
			mine[0].Recipient != "j***@example.com" {
			t.Errorf("customer's view = %+v", mine)
		}
	})
}

// A recipient the server refuses for good (550) is not tried again.
func TestSMTPPermanentRefusalIsNotRetried(t *testing.T) {
	t.Parallel()
	mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	mailSrv.RejectRcpt("nobody@example.com")
	e := start(t, sqliteURL(t), func(c *Config) { c.SMTPURL = mailSrv.URL("") })
	ev := registered(t, "user-1", "nobody@example.com", "Nobody", "", false)
	e.publish(ev)
	d := e.waitDeliveries(ev.ID, 1)[0]
	if d.Status != StatusFailed || d.Attempts != 1 || *d.ErrorCode != ErrorCodeRejected ||
		!strings.Contains(deref(d.LastError), "550") {
		t.Errorf("delivery = %+v, last_error %v", d, deref(d.LastError))
	}
	waitDeadLetter(t, e, "deadletter.notifications-email."+event.UserRegistered)
}

// An SMTP server that is down when the event arrives: the delivery waits,
// recorded, through a restart of the service, and is sent by the next
// process once the server answers.
func TestPendingDeliverySurvivesARestart(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
		mailSrv.Refuse(func(int) *smtp.SMTPError {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
				Message: "service not available"}
		})
		nats := e2eNATS(t)
		first := startOn(t, dbURL, nats.url, nats.issuer, func(c *Config) {
			c.SMTPURL, c.MaxAttempts, c.RetryInitial = mailSrv.URL(""), 1000, 50*time.Millisecond
		})
		ev := registered(t, "user-1", "jane@example.com", "Jane", "", false)
		first.publish(ev)
		testkit.Eventually(t, 15*time.Second, func() bool { return mailSrv.DataCommands() >= 2 },
			"the server was not tried twice")
		first.stop()
		mailSrv.Refuse(nil)
		second := startOn(t, dbURL, nats.url, nats.issuer, func(c *Config) {
			c.SMTPURL = mailSrv.URL("")
		})
		d := second.waitDeliveries(ev.ID, 1)[0]
		if d.Status != StatusSent || len(mailSrv.Mails()) != 1 {
			t.Errorf("delivery = %+v after %d mails", d, len(mailSrv.Mails()))
		}
	})
}

// Redelivering an event sends nothing twice, email or SMS.
func TestRedeliverySendsNothingTwice(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
		sms := notifytest.NewTwilioServer(t)
		e := start(t, dbURL, func(c *Config) {
			c.SMTPURL = mailSrv.URL("")
			twilioConfig(c, sms)
		})
		reg := registered(t, "user-1", "jane@example.com", "Jane", "+14155550100", true)
		paid := orderEvent(t, event.OrderPaid, "user-1", nil)
		e.publish(reg, paid)
		e.waitDeliveries(paid.ID, 2)
		e.redeliver(reg)
		e.redeliver(paid)
		e.consumed("IDENTITY", consumerIdentity)
		e.consumed("ORDERS", consumerOrders)
		// Anything recorded twice would be due now, and sent before this holds.
		testkit.Eventually(t, 5*time.Second, func() bool { return e.effectsDone() },
			"effects still due")
		if n := len(mailSrv.Mails()); n != 2 {
			t.Errorf("%d mails, want 2 (welcome, order paid)", n)
		}
		if n := len(sms.Messages()); n != 1 {
			t.Errorf("%d SMS, want 1", n)
		}
		if n := len(e.deliveries("", nil)); n != 3 {
			t.Errorf("%d deliveries, want 3", n)
		}
	})
}

// The quota holds: past it, a customer's messages are recorded failed with
// quota_exceeded and not sent, while other customers' go on.
func TestQuotaHolds(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
		e := start(t, dbURL, func(c *Config) { c.SMTPURL, c.Quota = mailSrv.URL(""), 3 })
		e.publish(registered(t, "user-1", "jane@example.com", "Jane", "", false),
			registered(t, "user-2", "max@example.com", "Max", "", false))
		for i := range 4 {
			e.publish(orderEvent(t, event.OrderShipped, "user-1", func(o *event.OrderChanged) {
				o.OrderID, o.Number = "order-"+string(rune('a'+i)), "EMP-1000"+string(rune('0'+i))
			}))
		}
		e.publish(orderEvent(t, event.OrderShipped, "user-2", nil))
		got := e.waitDeliveries("", 7)
		var sent, quota int
		for _, d := range got {
			switch {
			case d.Status == StatusSent:
				sent++
			case d.Status == StatusFailed && *d.ErrorCode == ErrorCodeQuota && d.Attempts == 0 &&
				d.CustomerID == "user-1":
				quota++
			default:
				t.Errorf("unexpected delivery %+v", d)
			}
		}
		if sent != 5 || quota != 2 || len(mailSrv.Mails()) != 5 {
			t.Errorf("%d sent, %d over quota, %d mails; want 5, 2, 5 (3 + 2 for max)", sent, quota,
				len(mailSrv.Mails()))
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
