package main

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestWrite builds notices from a made-up module cache: each module's
// licence files under its line, the module cache's case encoding, a
// replaced module read from its replacement, and Go's licence last; a
// module without a licence file fails, naming it.
func TestWrite(t *testing.T) {
	cache, goroot := t.TempDir(), t.TempDir()
	put := func(p, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(filepath.Join(cache, "example.com/a@v1.0.0/LICENSE"), "\nMIT License A\n")
	put(filepath.Join(cache, "example.com/a@v1.0.0/NOTICE.txt"), "Notice A\n")
	put(filepath.Join(cache, "example.com/a@v1.0.0/README.md"), "not a licence\n")
	put(filepath.Join(cache, "github.com/!burnt!sushi/toml@v1.2.0/COPYING"), "BSD B\n")
	put(filepath.Join(cache, "example.com/fork@v1.1.0/LICENSE.md"), "Apache C\n")
	put(filepath.Join(goroot, "LICENSE"), "Go's BSD\n")
	mainLicense := filepath.Join(t.TempDir(), "LICENSE")
	put(mainLicense, "Hera's Apache\n")
	info := &buildinfo.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "example.com/hera/cmd/hera",
		Main:      debug.Module{Path: "example.com/hera", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/a", Version: "v1.0.0"},
			{Path: "example.com/c", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.1.0"}},
			{Path: "github.com/BurntSushi/toml", Version: "v1.2.0"},
		},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}},
	}
	var b bytes.Buffer
	if err := write(&b, info, mainLicense, cache, goroot); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"built with go1.26.8 for linux/arm64",
		rule + "\nexample.com/hera (devel)\n" + rule + "\n\n--- LICENSE\n\nHera's Apache\n",
		rule + "\nexample.com/a v1.0.0\n" + rule + "\n\n--- LICENSE\n\nMIT License A\n\n\n--- NOTICE.txt\n\nNotice A\n",
		rule + "\nexample.com/c v1.0.0 => example.com/fork v1.1.0\n" + rule + "\n\n--- LICENSE.md\n\nApache C\n",
		rule + "\ngithub.com/BurntSushi/toml v1.2.0\n" + rule + "\n\n--- COPYING\n\nBSD B\n",
		rule + "\nstd go1.26.8\n" + rule + "\n\n--- LICENSE\n\nGo's BSD\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the notices lack\n%s\nin\n%s", want, got)
		}
	}
	if strings.Contains(got, "not a licence") {
		t.Error("a README is in the notices")
	}

	info.Deps = append(info.Deps, &debug.Module{Path: "example.com/unlicensed", Version: "v0.1.0"})
	put(filepath.Join(cache, "example.com/unlicensed@v0.1.0/main.go"), "package x\n")
	err := write(&bytes.Buffer{}, info, mainLicense, cache, goroot)
	if err == nil || !strings.Contains(err.Error(), "example.com/unlicensed v0.1.0: no licence file") {
		t.Errorf("a module without a licence: %v", err)
	}
}
