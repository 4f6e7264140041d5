package app_test

import (
	"strings"
	"testing"
	"time"

	"emporium/internal/platform/app"
	"emporium/internal/platform/config"
	"emporium/internal/platform/sqldb"
)

func TestDatabasePoolConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DATABASE_URL": "postgres://db/x",
		"EMPORIUM_SERVICE_TOKEN": strings.Repeat("k", 44)}
	load := func(env map[string]string) (app.Base, error) {
		var b app.Base
		err := config.LoadFrom(func(k string) (string, bool) {
			if v, ok := env[k]; ok {
				return v, true
			}
			v, ok := base[k]
			return v, ok
		}, &b)
		return b, err
	}

	b, err := load(nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	want := sqldb.PoolConfig{MaxConns: 25, ConnMaxLifetime: 30 * time.Minute,
		StatementTimeout: 30 * time.Second, IdleInTxTimeout: time.Minute}
	if got := b.Pool(); got != want {
		t.Errorf("default pool = %+v, want %+v", got, want)
	}

	tests := []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"DATABASE_MAX_CONNS": "0"}, "DATABASE_MAX_CONNS"},
		{map[string]string{"DATABASE_CONN_MAX_LIFETIME": "-1s"}, "DATABASE_CONN_MAX_LIFETIME"},
		{map[string]string{"DATABASE_STATEMENT_TIMEOUT": "0s"}, "DATABASE_STATEMENT_TIMEOUT"},
		{map[string]string{"DATABASE_IDLE_IN_TX_TIMEOUT": "soon"}, "DATABASE_IDLE_IN_TX_TIMEOUT"},
	}
	for _, tt := range tests {
		if _, err := load(tt.env); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("load(%v) = %v, want an error naming %s", tt.env, err, tt.wantErr)
		}
	}
}
