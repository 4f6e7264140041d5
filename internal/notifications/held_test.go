package notifications

import (
	"strings"
	"testing"
	"time"

	"emporium/internal/event"
	"emporium/internal/notifications/notifytest"
	"emporium/internal/platform/bus"
)

// Events from different streams arrive in any order: an order paid before
// the customer's registration reached the service waits for the contact,
// and is sent when it arrives; so is a payment event.
func TestEventBeforeItsContactWaitsForIt(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
		e := start(t, dbURL, func(c *Config) { c.SMTPURL = mailSrv.URL("") })
		paid := orderEvent(t, event.OrderPaid, "user-1", nil)
		failed := newEvent(t, event.PaymentFailed, event.PaymentChanged{PaymentID: "pay-1",
			OrderID: sampleOrder("paid").OrderID, CustomerID: "user-1", Provider: "sandbox",
			Status: "requires_payment_method", Amount: usd(202499), FailureCode: "card_declined"})
		e.publish(paid, failed)
		e.consumed("ORDERS", consumerOrders)
		e.consumed("PAYMENTS", consumerPayments)
		if n := len(e.deliveries("", nil)); n != 0 {
			t.Fatalf("%d deliveries before the contact is known, want 0", n)
		}
		reg := registered(t, "user-1", "jane@example.com", "Jane", "", false)
		e.publish(reg)
		for _, ev := range []event.Envelope{reg, paid, failed} {
			if d := e.waitDeliveries(ev.ID, 1)[0]; d.Status != StatusSent ||
				d.Recipient != "jane@example.com" {
				t.Errorf("%s: delivery = %+v", ev.Type, d)
			}
		}
		if n := len(mailSrv.Mails()); n != 3 {
			t.Errorf("%d mails, want 3", n)
		}
		// The payment's email names the order, which the orders event told.
		if d := e.waitDeliveries(failed.ID, 1)[0]; d.Subject !=
			"Your payment for order EMP-10042 was declined" {
			t.Errorf("subject %q", d.Subject)
		}
	})
}

// An event whose contact never comes is given up after ContactWait: its
// email is recorded failed with contact_unknown, and it is dead-lettered.
func TestEventWithoutContactIsGivenUp(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		e := start(t, dbURL, func(c *Config) { c.ContactWait = 100 * time.Millisecond })
		shipped := orderEvent(t, event.OrderShipped, "ghost", nil)
		e.publish(shipped)
		d := e.waitDeliveries(shipped.ID, 1)[0]
		if d.Status != StatusFailed || *d.ErrorCode != ErrorCodeNoContact || d.Recipient != "" ||
			d.Attempts != 0 || d.Subject != "Order EMP-10042 has shipped" ||
			!strings.Contains(deref(d.LastError), "ghost") {
			t.Errorf("delivery = %+v, last_error %s", d, deref(d.LastError))
		}
		dl := waitDeadLetter(t, e, "deadletter.notifications-email."+event.OrderShipped)
		if dl.Header.Get(bus.HeaderDeadMsgID) != shipped.ID {
			t.Errorf("dead letter of %s, want %s", dl.Header.Get(bus.HeaderDeadMsgID), shipped.ID)
		}
		// The contact arriving later changes nothing for the given-up event.
		e.publish(registered(t, "ghost", "ghost@example.com", "Ghost", "", false))
		e.consumed("IDENTITY", consumerIdentity)
		for _, d := range e.deliveries("ghost", nil) {
			if d.EventID == shipped.ID && d.Status != StatusFailed {
				t.Errorf("the given-up delivery became %+v", d)
			}
		}
	})
}

// A profile change updates the contact: the next message goes to the new
// address, and an older event arriving late does not undo the change.
func TestContactFollowsTheNewestIdentityEvent(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		sms := notifytest.NewTwilioServer(t)
		e := start(t, dbURL, func(c *Config) { twilioConfig(c, sms) })
		reg := registered(t, "user-1", "jane@example.com", "Jane", "", false)
		phone := "+14155550199"
		updated := newEvent(t, event.UserUpdated, event.UserContact{UserID: "user-1",
			Email: "jane@example.com", Name: "Jane B", Phone: &phone, SMSOptIn: true})
		stale := newEvent(t, event.UserUpdated, event.UserContact{UserID: "user-1",
			Email: "old@example.com", Name: "Old", SMSOptIn: false})
		stale.Time = updated.Time.Add(-time.Minute)
		e.publish(reg, updated, stale)
		e.consumed("IDENTITY", consumerIdentity)
		paid := orderEvent(t, event.OrderPaid, "user-1", nil)
		e.publish(paid)
		ds := e.waitDeliveries(paid.ID, 2)
		if ds[0].Recipient != "jane@example.com" || ds[1].Recipient != phone {
			t.Errorf("deliveries to %s and %s", ds[0].Recipient, ds[1].Recipient)
		}
	})
}

// A service that starts on streams holding old events (its first start in a
// running shop, or after a long outage) keeps their contacts but writes to
// no one about them; a fresh event is written about as usual.
func TestOldEventsAreNotWrittenAbout(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		e := start(t, dbURL, nil)
		old := registered(t, "user-1", "jane@example.com", "Jane", "", false)
		old.Time = time.Now().UTC().Add(-30 * 24 * time.Hour)
		oldPaid := orderEvent(t, event.OrderPaid, "user-1", nil)
		oldPaid.Time = old.Time
		e.publish(old, oldPaid)
		e.consumed("IDENTITY", consumerIdentity)
		e.consumed("ORDERS", consumerOrders)
		if ds := e.deliveries("", nil); len(ds) != 0 {
			t.Fatalf("%d deliveries for month-old events, want 0: %+v", len(ds), ds)
		}
		shipped := orderEvent(t, event.OrderShipped, "user-1", nil)
		e.publish(shipped)
		if d := e.waitDeliveries(shipped.ID, 1)[0]; d.Recipient != "jane@example.com" {
			t.Errorf("the fresh event's delivery went to %q, want the old event's contact",
				d.Recipient)
		}
	})
}
