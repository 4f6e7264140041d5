package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"emporium/internal/cart"
	"emporium/internal/catalog"
	"emporium/internal/identity"
	"emporium/internal/notifications"
	"emporium/internal/orders"
	"emporium/internal/payments"
	"emporium/internal/platform/app"
)

// services lists the services the all-in-one runs, each configured from cfg.
// Secrets a newcomer should not have to make are made on the first start and
// kept in the data directory, and so are the messages sent without SMTP or
// Twilio (<data dir>/notifications-outbox).
func services(cfg Config) ([]app.Unit, error) {
	if cfg.Identity.KeyEncryptionKey == "" {
		kek, err := secretFile(filepath.Join(cfg.DataDir, "identity.kek"))
		if err != nil {
			return nil, fmt.Errorf("identity key-encryption key: %w", err)
		}
		cfg.Identity.KeyEncryptionKey = kek
	}
	if cfg.Notifications.OutboxDir == "" {
		cfg.Notifications.OutboxDir = filepath.Join(cfg.DataDir, "notifications-outbox")
	}
	return []app.Unit{identity.Unit(cfg.Identity), catalog.Unit(cfg.Catalog), cart.Unit(cfg.Cart),
		orders.Unit(cfg.Orders), payments.Unit(cfg.Payments), notifications.Unit(cfg.Notifications)}, nil
}

// secretFile reads a base64 secret of 32 bytes from path, creating it (mode
// 0600) on the first start.
func secretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	key := make([]byte, 32)
	rand.Read(key)
	s := base64.StdEncoding.EncodeToString(key)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}
