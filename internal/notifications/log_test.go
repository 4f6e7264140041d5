package notifications

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"emporium/internal/event"
	"emporium/internal/notifications/notifytest"
	"emporium/internal/platform/app/apptest"
)

// The delivery log: customers see their own deliveries with recipients
// masked, admins everyone's whole; both filter by status and channel and
// page with cursors, newest first, without repeating or skipping.
func TestDeliveryLog(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		sms := notifytest.NewTwilioServer(t)
		sms.Invalid("+15005550001")
		e := start(t, dbURL, func(c *Config) { twilioConfig(c, sms) })
		e.publish(registered(t, "jane", "jane@example.com", "Jane", "+14155550100", true),
			registered(t, "bob", "b@example.org", "Bob", "+15005550001", true))
		var events []event.Envelope
		for i := range 5 {
			events = append(events, orderEvent(t, event.OrderShipped, "jane",
				func(o *event.OrderChanged) { o.OrderID = "o-" + string(rune('a'+i)) }))
		}
		events = append(events, orderEvent(t, event.OrderPaid, "bob", nil))
		e.publish(events...)
		all := e.waitDeliveries("", 2+5*2+2)

		// Customers: their own, masked.
		mine := e.deliveries("jane", nil)
		if len(mine) != 11 {
			t.Fatalf("jane sees %d deliveries, want 11", len(mine))
		}
		for _, d := range mine {
			if d.CustomerID != "jane" {
				t.Errorf("jane sees %+v", d)
			}
			if want := map[string]string{ChannelEmail: "j***@example.com",
				ChannelSMS: "+*******0100"}[d.Channel]; d.Recipient != want {
				t.Errorf("jane sees recipient %q, want %q", d.Recipient, want)
			}
		}
		bobs := e.deliveries("bob", param("status", "failed"))
		if len(bobs) != 1 || bobs[0].Channel != ChannelSMS || bobs[0].Recipient != "+*******0001" ||
			deref(bobs[0].LastError) != publicErrors[ErrorCodeRejected] {
			t.Errorf("bob's failed deliveries = %+v", bobs)
		}
		// Admins: everything, whole, with the provider's answer.
		if len(all) != 14 {
			t.Fatalf("admin sees %d deliveries, want 14", len(all))
		}
		failed := e.deliveries("", param("status", "failed"))
		if len(failed) != 1 || failed[0].Recipient != "+15005550001" ||
			deref(failed[0].LastError) == publicErrors[ErrorCodeRejected] {
			t.Errorf("admin's failed deliveries = %+v", failed)
		}
		smsOnly := e.deliveries("", url.Values{"channel": {"sms"}, "customer_id": {"jane"}})
		if len(smsOnly) != 5 || slices.ContainsFunc(smsOnly, func(d Delivery) bool {
			return d.Channel != ChannelSMS || d.CustomerID != "jane"
		}) {
			t.Errorf("jane's sms = %d deliveries", len(smsOnly))
		}

		// Pages of 3 walk the whole log in order.
		var walked []Delivery
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("the pages do not end")
			}
			q := url.Values{"limit": {"3"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			r := e.do("GET", "/api/v1/admin/notifications?"+q.Encode(), e.adminToken())
			apptest.Expect(t, r, http.StatusOK, "")
			var l DeliveryList
			r.JSON(t, &l)
			walked = append(walked, l.Items...)
			if cursor = l.NextCursor; cursor == "" {
				break
			}
		}
		if len(walked) != len(all) {
			t.Fatalf("the pages hold %d deliveries, want %d", len(walked), len(all))
		}
		for i, d := range walked {
			if d.ID != all[i].ID {
				t.Fatalf("page walk differs at %d: %s, want %s", i, d.ID, all[i].ID)
			}
			if i > 0 {
				prev := walked[i-1]
				if d.CreatedAt.After(prev.CreatedAt) ||
					(d.CreatedAt.Equal(prev.CreatedAt) && d.ID < prev.ID) {
					t.Errorf("not newest first, ties by id, at %d", i)
				}
			}
		}
	})
}

// The routes answer API.md's errors: no token 401, a customer on the
// admin's route 403, a bad filter, limit or cursor 422 naming it.
func TestDeliveryLogErrors(t *testing.T) {
	t.Parallel()
	e := start(t, sqliteURL(t), nil)
	r := e.do("GET", "/api/v1/users/me/notifications", "")
	apptest.Expect(t, r, http.StatusUnauthorized, "unauthenticated")
	r = e.do("GET", "/api/v1/admin/notifications", "")
	apptest.Expect(t, r, http.StatusUnauthorized, "unauthenticated")
	r = e.do("GET", "/api/v1/admin/notifications", e.customerToken("jane"))
	apptest.Expect(t, r, http.StatusForbidden, "forbidden")
	for _, tt := range []struct{ query, field string }{
		{"status=lost", "status"},
		{"channel=fax", "channel"},
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"cursor=%21%21", "cursor"},
		{"cursor=bm90LWpzb24", "cursor"},
	} {
		for _, path := range []string{"/api/v1/users/me/notifications", "/api/v1/admin/notifications"} {
			r := e.do("GET", path+"?"+tt.query, e.adminToken())
			apptest.Expect(t, r, http.StatusUnprocessableEntity, "validation_failed")
			if _, fields := r.Problem(t); !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("%s?%s names %v, want [%s]", path, tt.query, fields, tt.field)
			}
		}
	}
	r = e.do("GET", "/api/v1/users/me/notifications?unknown=1", e.customerToken("jane"))
	apptest.Expect(t, r, http.StatusOK, "")
	r = e.do("GET", "/openapi/notifications.yaml", "")
	apptest.Expect(t, r, http.StatusOK, "")
}
