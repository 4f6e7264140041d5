package identity

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
)

// AdminCommand runs the command line "create-admin EMAIL" against the identity
// database at dbURL: it makes EMAIL an admin, creating the account with
// password when there is none (read from stdin when password is empty), or
// promoting the existing account when password is its password. It prints
// what it did and returns the process exit code.
func AdminCommand(ctx context.Context, args []string, dbURL, password string, stdin io.Reader, out io.Writer) int {
	if len(args) != 2 || args[0] != "create-admin" {
		fmt.Fprintln(out, "usage: create-admin EMAIL   (password from EMPORIUM_ADMIN_PASSWORD or standard input)")
		return 2
	}
	email := args[1]
	if password == "" {
		fmt.Fprint(out, "password for "+email+": ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(out, "\nno password given")
			return 2
		}
		password = strings.TrimRight(line, "\r\n")
	}
	changed, err := CreateAdmin(ctx, dbURL, email, password, slog.New(slog.DiscardHandler))
	if errors.Is(err, ErrAccountExists) {
		fmt.Fprintln(out, "create-admin:", NormalizeEmail(email),
			"already has an account, with another password; give that account's password to "+
				"make it an admin")
		return 1
	}
	if err != nil {
		fmt.Fprintln(out, "create-admin:", err)
		return 1
	}
	if changed {
		fmt.Fprintln(out, NormalizeEmail(email), "is an admin")
	} else {
		fmt.Fprintln(out, NormalizeEmail(email), "was already an admin; nothing changed")
	}
	return 0
}

// CreateAdmin migrates the identity database at dbURL and makes email an
// admin (see EnsureAdmin). The events it writes are relayed by the running
// service.
func CreateAdmin(ctx context.Context, dbURL, email, password string, log *slog.Logger) (bool, error) {
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		return false, err
	}
	defer db.Close()
	if err := db.Migrate(ctx, outbox.Schema, inbox.Schema, Schema); err != nil {
		return false, err
	}
	hasher, err := NewHasher(DefaultArgon2)
	if err != nil {
		return false, err
	}
	s := &Service{db: db, hasher: hasher, log: log, now: sqldb.Now}
	if err := s.normalizeStoredEmails(ctx); err != nil {
		return false, err
	}
	return s.EnsureAdmin(ctx, email, password)
}
