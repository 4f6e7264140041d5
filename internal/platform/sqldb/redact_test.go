package sqldb_test

import (
	"context"
	"strings"
	"testing"

	"emporium/internal/platform/sqldb"
)

func TestRedactHidesEveryPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"postgres://app:hunter2@db:5432/x?sslmode=disable",
			"postgres://app:*****@db:5432/x?sslmode=disable"},
		// pgx takes a password as a query parameter too.
		{"postgres://app@db:5432/x?password=hunter2&sslmode=disable",
			"postgres://app@db:5432/x?password=*****&sslmode=disable"},
		{"postgresql://db/x?sslpassword=hunter2", "postgresql://db/x?sslpassword=*****"},
		// Unparsable, and echoed by Open's error for a wrong scheme.
		{"mysql://app:hunter2@db:bad/x", "mysql://app:*****@db:bad/x"},
		{"host=db password=hunter2", "host=db password=*****"},
		{"sqlite:/tmp/x.db", "sqlite:/tmp/x.db"},
	}
	for _, tt := range tests {
		if got := sqldb.Redact(tt.in); got != tt.want || strings.Contains(got, "hunter2") {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"mysql://app:hunter2@db/x",
		"host=db password=hunter2",
	} {
		_, err := sqldb.Open(context.Background(), raw)
		if err == nil {
			t.Fatalf("Open(%q) = nil error", raw)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error %q shows the password", raw, err)
		}
	}
}
