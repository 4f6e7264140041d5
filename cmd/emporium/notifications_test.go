package main

import (
	"bytes"
	"encoding/json"
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
