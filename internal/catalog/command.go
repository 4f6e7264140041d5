package catalog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"emporium/internal/platform/inbox"
	"emporium/internal/platform/outbox"
	"emporium/internal/platform/sqldb"
)

// ImportCommand runs the command line "import-products FILE" against the
// catalog database at dbURL: it imports a JSON or CSV file of products,
// printing progress and every rejected row with its reason, and returns the
// process exit code (1 when any row was rejected). The events it writes are
// relayed by the running service, which also drops what it had cached.
func ImportCommand(ctx context.Context, args []string, dbURL string, cfg Config, out io.Writer) int {
	if len(args) != 2 || args[0] != "import-products" {
		fmt.Fprintln(out, "usage: import-products FILE.json|FILE.csv")
		return 2
	}
	data, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintln(out, "import-products:", err)
		return 2
	}
	f, err := ParseImport(filepath.Base(args[1]), data)
	if err != nil {
		fmt.Fprintln(out, "import-products:", err)
		return 2
	}
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		fmt.Fprintln(out, "import-products:", err)
		return 1
	}
	defer db.Close()
	if err := db.Migrate(ctx, outbox.Schema, inbox.Schema, Schema); err != nil {
		fmt.Fprintln(out, "import-products:", err)
		return 1
	}
	cfg.RedisURL = "" // the command caches nothing; the service's follower drops stale entries
	svc, err := New(ctx, db, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		fmt.Fprintln(out, "import-products:", err)
		return 1
	}
	step := max(1, len(f.Products)/20)
	res, err := svc.Import(ctx, f, func(done, total int) {
		if done%step == 0 || done == total {
			fmt.Fprintf(out, "%d/%d rows\n", done, total)
		}
	})
	for _, r := range res.Rejected {
		fmt.Fprintf(out, "row %d (sku %q) rejected: %s\n", r.Row, r.SKU, r.Reason)
	}
	fmt.Fprintf(out, "imported %d products, rejected %d\n", res.Imported, len(res.Rejected))
	if err != nil {
		fmt.Fprintln(out, "import-products: stopped:", err)
		return 1
	}
	if len(res.Rejected) > 0 {
		return 1
	}
	return 0
}
