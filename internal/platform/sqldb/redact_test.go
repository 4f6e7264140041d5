package sqldb_test

import (
	"context"
	"strings"
	"testing"

	"emporium/internal/platform/sqldb"
)

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
