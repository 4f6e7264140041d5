package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"emporium/internal/platform/errs"
)

// The constraint violations that Translate recognises. Both are conflicts:
// callers usually turn them into a more specific domain error with errors.Is
// and ConstraintError.On.
var (
	ErrUnique     = errs.New(errs.Conflict, "conflict", "a unique value is already taken")
	ErrForeignKey = errs.New(errs.Conflict, "conflict", "a referenced row is missing or still referenced")
)

// ConstraintError is a unique or foreign-key violation with what the database
// said about it. errors.Is(err, ErrUnique) or ErrForeignKey tells which.
type ConstraintError struct {
	Kind    *errs.Error // ErrUnique or ErrForeignKey
	Table   string      // when the database names it
	Columns []string    // when the database names them
	Err     error       // the driver's error
}

func (e *ConstraintError) Error() string {
	return e.Kind.Message + " (" + e.Table + "." + strings.Join(e.Columns, ",") + "): " + e.Err.Error()
}

// Unwrap exposes both the kind sentinel and the driver's error.
func (e *ConstraintError) Unwrap() []error { return []error{e.Kind, e.Err} }

// On reports whether the violated constraint covers column.
func (e *ConstraintError) On(column string) bool {
	for _, c := range e.Columns {
		if c == column {
			return true
		}
	}
	return false
}

// IsUnique reports whether err is a unique violation on column ("" for any).
// It works on a driver's error too, so a transaction's closure can test the
// error of a statement before Tx translates it.
func IsUnique(err error, column string) bool {
	var ce *ConstraintError
	if !errors.As(Translate(err), &ce) || ce.Kind != ErrUnique {
		return false
	}
	return column == "" || ce.On(column)
}

// ErrUnavailable is the kind of a database that cannot be reached or did not
// answer in time: the caller answers 503 with Retry-After.
var ErrUnavailable = errs.New(errs.Unavailable, "unavailable", "the database is not available")

// Translate turns driver constraint violations into *ConstraintError and an
// unreachable, overloaded or timed-out database into ErrUnavailable (the
// driver's error still wrapped), and leaves every other error as it is. It
// is safe to call more than once.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var ce *ConstraintError
	var ke *errs.Error
	if errors.As(err, &ce) || errors.As(err, &ke) {
		return err
	}
	if unavailable(err) {
		return &errs.Error{Kind: errs.Unavailable, Code: ErrUnavailable.Code, Message: ErrUnavailable.Message,
			RetryAfter: 2 * time.Second, Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return &ConstraintError{Kind: ErrUnique, Table: pgErr.TableName,
				Columns: pgKeyColumns(pgErr.Detail), Err: err}
		case "23503":
			return &ConstraintError{Kind: ErrForeignKey, Table: pgErr.TableName,
				Columns: pgKeyColumns(pgErr.Detail), Err: err}
		}
		return err
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			table, cols := sqliteColumns(liteErr.Error())
			return &ConstraintError{Kind: ErrUnique, Table: table, Columns: cols, Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &ConstraintError{Kind: ErrForeignKey, Err: err}
		}
	}
	return err
}

// unavailable reports whether err says the database could not be reached or
// did not answer in time, as opposed to refusing the statement.
func unavailable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	var liteErr *sqlite.Error
	switch {
	case errors.As(err, &connErr), errors.Is(err, driver.ErrBadConn), errors.Is(err, context.DeadlineExceeded),
		pgconn.Timeout(err), errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		// Class 08: connection exceptions; 57P01/57P03: shutting down or starting up;
		// 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P03" ||
			pgErr.Code == "53300"
	case errors.As(err, &liteErr):
		code := liteErr.Code() & 0xff // the primary code
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

// pgKeyColumns reads the columns from a detail such as
// "Key (sku)=(ABC) already exists." or "Key (a, b)=(1, 2) is not present in table ...".
func pgKeyColumns(detail string) []string {
	rest, ok := strings.CutPrefix(detail, "Key (")
	if !ok {
		return nil
	}
	list, _, ok := strings.Cut(rest, ")=(")
	if !ok {
		return nil
	}
	cols := strings.Split(list, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return cols
}

// sqliteColumns reads the table and columns from a message such as
// "constraint failed: UNIQUE constraint failed: products.sku, products.x (2067)".
func sqliteColumns(msg string) (table string, cols []string) {
	i := strings.LastIndex(msg, "failed: ")
	if i < 0 {
		return "", nil
	}
	list := msg[i+len("failed: "):]
	if j := strings.LastIndex(list, " ("); j >= 0 {
		list = list[:j]
	}
	for _, qualified := range strings.Split(list, ",") {
		t, c, found := strings.Cut(strings.TrimSpace(qualified), ".")
		if !found {
			continue
		}
		table = t
		cols = append(cols, c)
	}
	return table, cols
}
