package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/tracing"
)

// TestNewFailsCleanly: a configuration that fails late, once the store,
// tracing and start-up checks are running (a bad catalog in
// HERA_LOCALES_DIR fails in web.NewServer), returns the error and releases
// what was started — no panic on the way out.
func TestNewFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "en.json"), []byte(`{"hera.login.titel": "Sign in"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"KRATOS_PUBLIC_URL": "http://127.0.0.1:1",
		"KRATOS_ADMIN_URL":  "http://127.0.0.1:1",
		"HERA_LOCALES_DIR":  dir,
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(context.Background(), cfg, tracing.Config{}, slog.New(slog.DiscardHandler), "test")
	if err == nil || !strings.Contains(err.Error(), "hera.login.titel") {
		t.Fatalf("New = %v, %v; want the catalog error", a, err)
	}
	if a != nil {
		t.Errorf("New returned an App with its error")
	}
}
