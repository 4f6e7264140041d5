package notifications

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"emporium/internal/event"
	"emporium/internal/notifications/notifytest"
)

// Without SMTP or Twilio, messages go to the outbox directory — each email
// a .eml file a mail client opens, each SMS a JSON line — and the delivery
// log records them as sent by provider "file".
func TestOutboxDirectory(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, dbURL string) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "outbox")
		e := start(t, dbURL, func(c *Config) { c.OutboxDir = dir })
		reg := registered(t, "user-1", "jane@example.com", "Jane", "+14155550100", true)
		paid := orderEvent(t, event.OrderPaid, "user-1", nil)
		e.publish(reg, paid)
		ds := append(e.waitDeliveries(reg.ID, 1), e.waitDeliveries(paid.ID, 2)...)
		for _, d := range ds {
			if d.Status != StatusSent || *d.Provider != ProviderFile {
				t.Errorf("delivery = %+v", d)
			}
		}
		for i, d := range ds[:2] {
			raw, err := os.ReadFile(filepath.Join(dir, d.ID+".eml"))
			if err != nil {
				t.Fatal(err)
			}
			m := notifytest.ParseMail(t, raw)
			if want := []string{"Welcome to Emporium", "Order EMP-10042 is confirmed"}[i]; m.Subject != want ||
				m.To != `"Jane" <jane@example.com>` || m.Text == "" || m.HTML == "" {
				t.Errorf("%s: subject %q to %q", d.ID, m.Subject, m.To)
			}
		}
		f, err := os.Open(filepath.Join(dir, "sms.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var lines []smsLine
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l smsLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		if len(lines) != 1 || lines[0].ID != ds[2].ID || lines[0].To != "+14155550100" ||
			lines[0].Body != "Emporium: order EMP-10042 is confirmed, total $2,024.99. Thank you!" {
			t.Errorf("sms.jsonl = %+v", lines)
		}
	})
}
