package notifications

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileOutbox is where messages go when no provider is configured (the
// all-in-one's default): each email is written as <delivery id>.eml, the
// MIME message an SMTP server would have received, and each SMS is appended
// to sms.jsonl as one JSON object per line ({id, to, body, at}). A newcomer
// sees there what would have been sent; the delivery log records them as sent
// with provider "file".
type FileOutbox struct {
	dir, from string
	mu        sync.Mutex // one SMS line at a time
}

// NewFileOutbox returns an outbox writing into dir, which it creates.
func NewFileOutbox(dir, from string) (*FileOutbox, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("notifications outbox directory: %w", err)
	}
	return &FileOutbox{dir: dir, from: from}, nil
}

// Provider is "file".
func (o *FileOutbox) Provider() string { return ProviderFile }

// Dir is the directory the messages are written to.
func (o *FileOutbox) Dir() string { return o.dir }

// SendEmail writes e as <dir>/<e.ID>.eml. A repeat replaces the file.
func (o *FileOutbox) SendEmail(_ context.Context, e Email) error {
	msg, err := newMsg(o.from, e)
	if err != nil {
		return err
	}
	path := filepath.Join(o.dir, e.ID+".eml")
	tmp, err := os.CreateTemp(o.dir, ".eml-*")
	if err != nil {
		return fmt.Errorf("outbox email: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := msg.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("outbox email: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("outbox email: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("outbox email: %w", err)
	}
	return nil
}

// smsLine is one line of sms.jsonl.
type smsLine struct {
	ID   string    `json:"id"`
	To   string    `json:"to"`
	Body string    `json:"body"`
	At   time.Time `json:"at"`
}

// SendSMS appends s to <dir>/sms.jsonl.
func (o *FileOutbox) SendSMS(_ context.Context, s SMS) error {
	line, err := json.Marshal(smsLine{ID: s.ID, To: s.To, Body: s.Body, At: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("outbox sms: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(o.dir, "sms.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY,
		0o640)
	if err != nil {
		return fmt.Errorf("outbox sms: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("outbox sms: %w", err)
	}
	return f.Close()
}
