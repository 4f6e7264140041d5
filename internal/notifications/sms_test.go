package notifications

import (
	"net/http"
	"strings"
	"testing"

	"emporium/internal/event"
	"emporium/internal/notifications/notifytest"
)

// Paid, shipped and cancelled orders go out by SMS to a customer who opted
// in and has a phone, through Twilio's API as Twilio checks it; a customer
// who did not opt in, or has no phone, gets the emails only.
func TestSMSThroughTwilio(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		sms := notifytest.NewTwilioServer(t)
		e := start(t, dbURL, func(c *Config) { twilioConfig(c, sms) })
		e.publish(
			registered(t, "in", "in@example.com", "In", "+14155550100", true),
			registered(t, "out", "out@example.com", "Out", "+14155550101", false),
			registered(t, "nophone", "np@example.com", "No Phone", "", true))
		paid := orderEvent(t, event.OrderPaid, "in", nil)
		shipped := orderEvent(t, event.OrderShipped, "in", func(o *event.OrderChanged) {
			o.TrackingNumber = "1Z999AA10123456784"
		})
		cancelled := orderEvent(t, event.OrderCancelled, "in", func(o *event.OrderChanged) {
			o.Reason = "payment_window_closed"
		})
		e.publish(paid, shipped, cancelled,
			orderEvent(t, event.OrderPaid, "out", nil), orderEvent(t, event.OrderPaid, "nophone", nil))
		for _, ev := range []event.Envelope{paid, shipped, cancelled} {
			ds := e.waitDeliveries(ev.ID, 2)
			if ds[1].Channel != ChannelSMS || ds[1].Status != StatusSent ||
				*ds[1].Provider != ProviderTwilio || ds[1].Recipient != "+14155550100" {
				t.Errorf("%s: sms delivery = %+v", ev.Type, ds[1])
			}
		}
		e.waitDeliveries("", 3+3*2+2) // welcomes, three events of "in" by two channels, two emails
		msgs := sms.Messages()
		if len(msgs) != 3 {
			t.Fatalf("Twilio accepted %d messages, want 3: %v", len(msgs), msgs)
		}
		bodies := map[string]bool{}
		for _, m := range msgs {
			if m.Get("To") != "+14155550100" || m.Get("From") != "+15005550006" {
				t.Errorf("message to %s from %s", m.Get("To"), m.Get("From"))
			}
			bodies[m.Get("Body")] = true
		}
		for _, want := range []string{
			"Emporium: order EMP-10042 is confirmed, total $2,024.99. Thank you!",
			"Emporium: order EMP-10042 has shipped. Tracking number: 1Z999AA10123456784",
			"Emporium: order EMP-10042 was cancelled (the payment was not completed in time).",
		} {
			if !bodies[want] {
				t.Errorf("no SMS %q among %v", want, bodies)
			}
		}
		// The customer sees the number masked.
		for _, d := range e.deliveries("in", param("channel", "sms")) {
			if d.Recipient != "+*******0100" {
				t.Errorf("customer sees %q", d.Recipient)
			}
		}
	})
}

// Twilio answering 429, then 500, is tried again until it accepts; a 400
// (21211, not a valid number) is not tried again.
func TestTwilioRetries(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		sms := notifytest.NewTwilioServer(t)
		sms.Answer(http.StatusTooManyRequests, http.StatusInternalServerError)
		sms.Invalid("+15005550001")
		e := start(t, dbURL, func(c *Config) { twilioConfig(c, sms) })
		e.publish(registered(t, "ok", "ok@example.com", "Ok", "+14155550100", true))
		paid := orderEvent(t, event.OrderPaid, "ok", nil)
		e.publish(paid)
		d := e.waitDeliveries(paid.ID, 2)[1]
		if d.Status != StatusSent || d.Attempts != 3 || len(sms.Messages()) != 1 {
			t.Errorf("after 429 and 500: delivery = %+v, %d accepted", d, len(sms.Messages()))
		}

		before := sms.Requests()
		e.publish(registered(t, "bad", "bad@example.com", "Bad", "+15005550001", true))
		paid = orderEvent(t, event.OrderPaid, "bad", nil)
		e.publish(paid)
		d = e.waitDeliveries(paid.ID, 2)[1]
		if d.Status != StatusFailed || d.Attempts != 1 || *d.ErrorCode != ErrorCodeRejected ||
			!strings.Contains(deref(d.LastError), "21211") {
			t.Errorf("after 400: delivery = %+v, last_error %s", d, deref(d.LastError))
		}
		if n := sms.Requests() - before; n != 1 {
			t.Errorf("Twilio was asked %d times for the invalid number, want 1", n)
		}
		waitDeadLetter(t, e, "deadletter.notifications-sms."+event.OrderPaid)
	})
}

// A messaging service sends instead of a from-number when configured.
func TestTwilioMessagingService(t *testing.T) {
	t.Parallel()
	sms := notifytest.NewTwilioServer(t)
	sms.MessagingServiceSID = "MG" + notifytest.RandomHex(16)
	e := start(t, sqliteURL(t), func(c *Config) {
		twilioConfig(c, sms)
		c.TwilioFrom, c.TwilioMessagingServiceSID = "", sms.MessagingServiceSID
	})
	e.publish(registered(t, "in", "in@example.com", "In", "+14155550100", true))
	paid := orderEvent(t, event.OrderPaid, "in", nil)
	e.publish(paid)
	if d := e.waitDeliveries(paid.ID, 2)[1]; d.Status != StatusSent {
		t.Fatalf("delivery = %+v", d)
	}
	if m := sms.Messages()[0]; m.Get("MessagingServiceSid") != sms.MessagingServiceSID ||
		m.Get("From") != "" {
		t.Errorf("sent with %v", m)
	}
}
