package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"emporium/internal/notifications/notifytest"
	"emporium/internal/platform/testkit"
)

// A registration through the all-in-one's front door is welcomed by email
// over a real SMTP conversation with a server started by the test, and the
// customer's delivery log shows it sent, with the address masked.
func TestWelcomeMailThroughTheAllInOne(t *testing.T) {
	mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	data := filepath.Join(t.TempDir(), "data")
	p := start(t, binary(t), data, "SMTP_URL="+mailSrv.URL(""),
		"NOTIFICATIONS_SHOP_NAME=Test Shop", "NOTIFICATIONS_EMAIL_FROM=shop@example.com")
	token := register(t, p.addr, "ada@example.com", "Ada Lovelace")
	testkit.Eventually(t, 30*time.Second, func() bool { return len(mailSrv.Mails()) > 0 },
		"no mail reached the SMTP server")
	mails := mailSrv.Mails()
	if len(mails) != 1 || strings.Join(mails[0].To, ",") != "ada@example.com" ||
		mails[0].From != "shop@example.com" {
		t.Fatalf("mails = %+v", mails)
	}
	m := notifytest.ParseMail(t, mails[0].Data)
	if m.Subject != "Welcome to Test Shop" || m.To != `"Ada Lovelace" <ada@example.com>` ||
		!strings.Contains(m.Text, "Hi Ada Lovelace,") || !strings.Contains(m.HTML, "Test Shop") {
		t.Errorf("mail: subject %q, to %q\n%s\n%s", m.Subject, m.To, m.Text, m.HTML)
	}
	var log struct {
		Items []struct {
			EventType, Recipient, Status, Provider string
		} `json:"items"`
	}
	testkit.Eventually(t, 10*time.Second, func() bool {
		get(t, p.addr, "/api/v1/users/me/notifications", token, &log)
		return len(log.Items) == 1 && log.Items[0].Status == "sent"
	}, "the delivery log does not show the mail sent")
	if d := log.Items[0]; d.Recipient != "a***@example.com" || d.Provider != "smtp" {
		t.Errorf("delivery = %+v", d)
	}
	p.stop(t)
}

// A sandbox checkout through the front door — cart, order, payment with
// Stripe's test card — is confirmed by email with the order's lines and
// total. It needs the cart, orders and payments services in the all-in-one,
// and skips while a route of theirs is unknown there.
func TestOrderPaidMailAfterSandboxCheckout(t *testing.T) {
	mailSrv := notifytest.NewSMTPServer(t, notifytest.SMTPOptions{})
	data := filepath.Join(t.TempDir(), "data")
	p := start(t, binary(t), data, "SMTP_URL="+mailSrv.URL(""))
	defer p.stop(t)
	token := register(t, p.addr, "ada@example.com", "Ada Lovelace")
	var products struct {
		Items []struct {
			ID, Name string
		} `json:"items"`
	}
	get(t, p.addr, "/api/v1/products?in_stock=true&limit=1", token, &products)
	if len(products.Items) != 1 {
		t.Fatal("no product in stock in the demo catalog")
	}
	product := products.Items[0]
	status, body := send(t, p.addr, "POST", "/api/v1/cart/items", token,
		map[string]any{"product_id": product.ID, "quantity": 2})
	requireKnownRoute(t, status, body, "the cart")
	if status != http.StatusOK {
		t.Fatalf("add to cart: %d %s", status, body)
	}
	status, body = send(t, p.addr, "POST", "/api/v1/orders", token, map[string]any{
		"shipping_address": map[string]string{"name": "Ada Lovelace", "line1": "12 St James's Sq",
			"city": "London", "postal_code": "SW1Y 4JH", "country": "GB"}},
		"Idempotency-Key", "checkout-1")
	requireKnownRoute(t, status, body, "the orders")
	if status != http.StatusCreated {
		t.Fatalf("checkout: %d %s", status, body)
	}
	var placed struct {
		Order struct {
			Number string `json:"number"`
		} `json:"order"`
		Payment struct {
			ID string `json:"id"`
		} `json:"payment"`
	}
	if err := json.Unmarshal(body, &placed); err != nil {
		t.Fatal(err)
	}
	status, body = send(t, p.addr, "POST", "/api/v1/payments/"+placed.Payment.ID+"/confirm", token,
		map[string]any{"payment_method": "pm_card_visa"})
	requireKnownRoute(t, status, body, "the payments")
	if status != http.StatusOK {
		t.Fatalf("confirm: %d %s", status, body)
	}
	subject := "Order " + placed.Order.Number + " is confirmed"
	var paid *notifytest.ParsedMail
	testkit.Eventually(t, 60*time.Second, func() bool {
		for _, m := range mailSrv.Mails() {
			if pm := notifytest.ParseMail(t, m.Data); pm.Subject == subject {
				paid = &pm
				return true
			}
		}
		return false
	}, "no mail %q reached the SMTP server", subject)
	if !strings.Contains(paid.Text, "2 x "+product.Name) || !strings.Contains(paid.Text, "Total:") ||
		!strings.Contains(paid.HTML, "Total") || paid.To != `"Ada Lovelace" <ada@example.com>` {
		t.Errorf("order mail to %q:\n%s\n%s", paid.To, paid.Text, paid.HTML)
	}
}

// requireKnownRoute fails the test when the front door does not know the
// route that answered status and body: the service is missing from the all-in-one.
func requireKnownRoute(t *testing.T, status int, body []byte, what string) {
	t.Helper()
	var problem struct {
		Code string `json:"code"`
	}
	if status == http.StatusNotFound && json.Unmarshal(body, &problem) == nil &&
		problem.Code == "not_found" {
		t.Fatalf("%s service is not in the all-in-one", what)
	}
}

// send sends a JSON body with a bearer token and headers as name, value
// pairs, and returns the status and body.
func send(t *testing.T, addr, method, path, token string, body any,
	headers ...string) (int, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// Without SMTP_URL, the welcome mail is written to the data directory's
// outbox, where a newcomer finds it.
func TestWelcomeMailInTheOutboxDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p := start(t, binary(t), data)
	register(t, p.addr, "grace@example.com", "Grace Hopper")
	dir := filepath.Join(data, "notifications-outbox")
	var files []string
	testkit.Eventually(t, 30*time.Second, func() bool {
		files, _ = filepath.Glob(filepath.Join(dir, "*.eml"))
		return len(files) == 1
	}, "no .eml file in %s", dir)
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if m := notifytest.ParseMail(t, raw); m.Subject != "Welcome to Emporium" ||
		m.To != `"Grace Hopper" <grace@example.com>` {
		t.Errorf("mail: subject %q, to %q", m.Subject, m.To)
	}
	p.stop(t)
}

// register creates a customer through the front door and returns the
// access token.
func register(t *testing.T, addr, email, name string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "name": name,
		"password": "correct horse battery staple"})
	resp, err := http.Post("http://"+addr+"/api/v1/auth/register", "application/json",
		bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

// get reads path with a bearer token into v.
func get(t *testing.T, addr, path, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
