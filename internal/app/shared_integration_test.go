//go:build integration

package app

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/heraproject/hera/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestSharedPostgres: one pool holds the lockout counters, the activity
// and the mail queue, in the realm's rows; closing releases it.
func TestSharedPostgres(t *testing.T) {
	dsn := dbtest.Postgres(t)
	cfg := loadConfig(t, map[string]string{"HERA_LOCKOUT_STORE": "postgres", "HERA_LOCKOUT_POSTGRES_DSN": dsn, "HERA_LOCKOUT_REALM": "r1"})
	st, err := openStores(context.Background(), cfg, slog.Default(), true)
	if err != nil {
		t.Fatal(err)
	}
	closed := useShared(t, st)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// The lockout key's realm is the caller's (useShared's "test"); the
	// activity's and the queue's is HERA_LOCKOUT_REALM.
	for table, realm := range map[string]string{"hera_lockout": "test", "hera_activity": "r1", "hera_outbox": "r1"} {
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+table+" WHERE realm = $1", realm).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s: %d rows of realm %s, %v; want 1", table, n, realm, err)
		}
	}
	st.close()
	closed(t)
}

// TestSharedRedis: one client holds all three, under the realm's keys;
// closing releases it.
func TestSharedRedis(t *testing.T) {
	addr, _ := dbtest.Redis(t)
	cfg := loadConfig(t, map[string]string{"HERA_LOCKOUT_STORE": "redis", "HERA_LOCKOUT_REDIS_URL": "redis://" + addr + "/0", "HERA_LOCKOUT_REALM": "r2"})
	st, err := openStores(context.Background(), cfg, slog.Default(), true)
	if err != nil {
		t.Fatal(err)
	}
	closed := useShared(t, st)
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	for _, pattern := range []string{"hera:lockout:test:*", "hera:activity:{r2:id}:*", "hera:outbox:{r2}:*"} {
		if keys, err := c.Keys(t.Context(), pattern).Result(); err != nil || len(keys) == 0 {
			t.Errorf("no keys %s: %v", pattern, err)
		}
	}
	st.close()
	closed(t)
}
