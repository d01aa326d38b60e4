//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/heraproject/hera/internal/app/apptest"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// TestPhotograph runs the tool against a whole Hera in front of real
// Kratos and Hydra: every page at every width and colour scheme, each a PNG
// as wide as its viewport, and the pages of -more; and a second run's state
// replaces the first's.
func TestPhotograph(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{Hydra: true, TokenHook: true})
	apptest.Start(t, e, nil)
	c := config{out: t.TempDir(), hera: e.HeraURL, kratosAdmin: e.Kratos.AdminURL, hydraAdmin: e.Hydra.AdminURL,
		hydraPublic: e.Hydra.PublicURL, chromium: "/usr/bin/chromium", more: true}
	var log bytes.Buffer
	files, err := photograph(context.Background(), c, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(files) != 24+3 {
		t.Errorf("%d files, want 24 and the 3 of -more: %v", len(files), files)
	}
	for _, page := range []string{"login", "settings", "consent", "apps", "sessions", "delete"} {
		for _, w := range widths {
			for _, sc := range schemes {
				name := filepath.Join(c.out, fmt.Sprintf("%s-%d-%s.png", page, w, sc))
				f, err := os.Open(name)
				if err != nil {
					t.Error(err)
					continue
				}
				img, err := png.DecodeConfig(f)
				f.Close()
				if err != nil {
					t.Errorf("%s: %v", name, err)
				} else if img.Width != w || img.Height < 400 {
					t.Errorf("%s: %d×%d, want %d px wide, a whole page high", name, img.Width, img.Height, w)
				}
			}
		}
	}

	for _, name := range []string{"registration", "not-found", "settings-de"} {
		if _, err := os.Stat(filepath.Join(c.out, name+"-1280-light.png")); err != nil {
			t.Error(err)
		}
	}

	// Again on the same stack: the earlier run's user and app are replaced.
	ctx := context.Background()
	if err := createUser(ctx, c.kratosAdmin, email, "another "+randomHex(8)); err != nil {
		t.Errorf("second user: %v", err)
	}
	if err := createClient(ctx, c.hydraAdmin, clientID, "http://127.0.0.1:1/callback"); err != nil {
		t.Errorf("second client: %v", err)
	}
}
