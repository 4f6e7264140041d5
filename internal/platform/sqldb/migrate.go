package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Schema is one owner's embedded migrations, tracked in its own version table
// (goose_<Name>), so a service and the platform tables it uses migrate
// independently. Files are goose SQL files named NNNNN_name.sql; a file named
// NNNNN_name.postgres.sql or NNNNN_name.sqlite.sql applies only to that dialect,
// for the few statements where the dialects differ.
type Schema struct {
	Name string
	FS   fs.FS
}

// Migrate applies every pending migration of each schema, in order. On
// PostgreSQL a session advisory lock keeps replicas starting together from
// migrating at once, and migrations run on connections of their own without
// the pool's statement and idle-in-transaction timeouts: building an index on
// a large table may rightly take longer than any request.
func (db *DB) Migrate(ctx context.Context, schemas ...Schema) error {
	conns := db.write
	if db.pg != nil {
		cfg := db.pg.Copy()
		cfg.RuntimeParams["statement_timeout"] = "0"
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "0"
		conns = stdlib.OpenDB(*cfg)
		defer conns.Close()
	}
	for _, s := range schemas {
		if err := db.migrate(ctx, conns, s); err != nil {
			return fmt.Errorf("migrate %s: %w", s.Name, err)
		}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, conns *sql.DB, s Schema) error {
	exclude, err := otherDialectFiles(s.FS, db.dialect)
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithTableName("goose_" + s.Name),
		goose.WithExcludeNames(exclude),
		goose.WithDisableGlobalRegistry(true),
	}
	dialect := goose.DialectSQLite3
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, conns, s.FS, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// otherDialectFiles lists the migration files meant only for another dialect.
func otherDialectFiles(fsys fs.FS, d Dialect) ([]string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var other []string
	for _, n := range names {
		for _, od := range []Dialect{Postgres, SQLite} {
			if od != d && strings.HasSuffix(n, "."+string(od)+".sql") {
				other = append(other, n)
			}
		}
	}
	return other, nil
}
