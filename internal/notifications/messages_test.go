package notifications

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emporium/internal/event"
)

var update = flag.Bool("update", false, "rewrite the golden files of the templates")

func usd(n int64) event.Money { return event.Money{Amount: n, Currency: "USD"} }

// sampleOrder is an order of two lines, one of them with a name an admin
// typed with markup in it.
func sampleOrder(status string) event.OrderChanged {
	return event.OrderChanged{
		OrderID: "0192d1a0-0000-7000-8000-000000000001", Number: "EMP-10042",
		CustomerID: "user-1", Status: status,
		Lines: []event.OrderLine{
			{ProductID: "p1", SKU: "MUG-1", Name: "Coffee mug", UnitPrice: usd(1250), Quantity: 2,
				LineTotal: usd(2500)},
			{ProductID: "p2", SKU: "TEE-<B>", Name: `Tee "Bold" <b>&</b> co`, UnitPrice: usd(199999),
				Quantity: 1, LineTotal: usd(199999)},
		},
		Subtotal: usd(202499), Shipping: usd(0), Total: usd(202499), Version: 2,
		At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// samples are the views every template is rendered with.
func samples() map[string]view {
	base := view{Shop: "Emporium", Name: `Jane <script>alert("x")</script>`,
		Email: "jane@example.com"}
	with := func(f func(*view)) view {
		v := base
		f(&v)
		return v
	}
	paid := sampleOrder("paid")
	shipped := sampleOrder("shipped")
	shipped.TrackingNumber = "1Z999AA10123456784"
	cancelled := sampleOrder("cancelled")
	cancelled.Reason, cancelled.Refunded = "customer", true
	refund, refunded := usd(500), usd(500)
	return map[string]view{
		"welcome":         base,
		"order_paid":      with(func(v *view) { v.Order = orderViewOf(paid) }),
		"order_shipped":   with(func(v *view) { v.Order = orderViewOf(shipped) }),
		"order_cancelled": with(func(v *view) { v.Order = orderViewOf(cancelled) }),
		"payment_refunded": with(func(v *view) {
			v.Payment = paymentViewOf(event.PaymentChanged{Amount: usd(202499), Refund: &refund,
				Refunded: &refunded}, "EMP-10042")
		}),
		"payment_failed": with(func(v *view) {
			v.Payment = paymentViewOf(event.PaymentChanged{Amount: usd(202499),
				FailureCode: "card_declined"}, "EMP-10042")
		}),
	}
}

// TestTemplatesGolden renders every message with sample data and compares
// each part with its golden file (go test -run TestTemplatesGolden -update
// rewrites them; read the diff before committing).
func TestTemplatesGolden(t *testing.T) {
	views := samples()
	for typ, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			v, ok := views[k.name]
			if !ok {
				t.Fatalf("no sample for %s (%s)", k.name, typ)
			}
			m, err := render(k, v)
			if err != nil {
				t.Fatal(err)
			}
			parts := map[string]string{"subject": m.Subject + "\n", "txt": m.Text, "html": m.HTML}
			if k.sms {
				parts["sms"] = m.SMS
			}
			for ext, got := range parts {
				golden(t, filepath.Join("testdata", "golden", k.name+"."+ext), got)
			}
			// Markup typed by a customer or an admin never reaches the HTML body
			// as markup.
			for _, raw := range []string{"<script>", "<b>&</b>", "TEE-<B>"} {
				if strings.Contains(m.HTML, raw) {
					t.Errorf("the HTML body has %q unescaped", raw)
				}
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from its golden file:\n--- got ---\n%s\n--- want ---\n%s", path, got,
			want)
	}
}

func TestFormatMoney(t *testing.T) {
	tests := []struct {
		m    event.Money
		want string
	}{
		{usd(1999), "$19.99"},
		{usd(5), "$0.05"},
		{usd(0), "$0.00"},
		{usd(123456789), "$1,234,567.89"},
		{usd(-250), "-$2.50"},
		{event.Money{Amount: 1999, Currency: "JPY"}, "¥1,999"},
		{event.Money{Amount: 1500, Currency: "KWD"}, "KWD 1.500"},
		{event.Money{Amount: 100000, Currency: "EUR"}, "€1,000.00"},
		{event.Money{Amount: 42, Currency: "CHF"}, "CHF 0.42"},
	}
	for _, tt := range tests {
		if got := FormatMoney(tt.m); got != tt.want {
			t.Errorf("FormatMoney(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

// TestMask holds the masks to API.md's examples, for emails and phone
// numbers of several lengths.
func TestMask(t *testing.T) {
	emails := []struct{ in, want string }{
		{"jane@example.com", "j***@example.com"},
		{"j@example.com", "j***@example.com"},
		{"jo@example.com", "j***@example.com"},
		{"alexander.hamilton@mail.example.org", "a***@mail.example.org"},
		{"élodie@example.fr", "é***@example.fr"},
	}
	for _, tt := range emails {
		if got := MaskEmail(tt.in); got != tt.want {
			t.Errorf("MaskEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	phones := []struct{ in, want string }{
		{"+14155550100", "+*******0100"},
		{"+442071838750", "+********8750"},
		{"+33612345678", "+*******5678"},
		{"+4912345", "+***2345"},
		{"+491234", "+**1234"},
		{"+12345", "+*2345"},
		{"+1234", "+1234"},
		{"+919876543210123", "+***********0123"},
	}
	for _, tt := range phones {
		if got := MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkRender renders the order confirmation: subject, both bodies and
// the SMS, as every paid order does inside its consumer's transaction.
func BenchmarkRender(b *testing.B) {
	v := samples()["order_paid"]
	k := kinds[event.OrderPaid]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := render(k, v); err != nil {
			b.Fatal(err)
		}
	}
}
