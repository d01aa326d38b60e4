// Command notices writes the licence notices of a Go binary: for the main
// module and every module `go version -m` lists for the binary, its path
// and version and the text of each of its licence files (LICENSE, LICENCE,
// COPYING, NOTICE, PATENTS, …) as the Go module cache holds them, then the
// Go distribution's own licence (the standard library and the runtime are
// compiled in too). scripts/image.sh ships the result in the image as
// /usr/share/doc/hera/NOTICES.
//
//	go run ./scripts/notices [-o NOTICES] [-main-license LICENSE] BINARY
//
// A module without a licence file, or missing from the module cache, is an
// error: the notices name every module or none.
package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"unicode"
)

func main() {
	out := flag.String("o", "", "write the notices to this file (default: standard output)")
	mainLicense := flag.String("main-license", "LICENSE", "the main module's licence file (the binary's own source tree)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: notices [-o FILE] [-main-license LICENSE] BINARY")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *mainLicense, *out); err != nil {
		fmt.Fprintln(os.Stderr, "notices:", err)
		os.Exit(1)
	}
}

func run(binary, mainLicense, out string) error {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return err
	}
	env, err := goEnv("GOMODCACHE", "GOROOT")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := write(&b, info, mainLicense, env["GOMODCACHE"], env["GOROOT"]); err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}

// goEnv asks the go command for its settings (the module cache may be
// configured anywhere).
func goEnv(names ...string) (map[string]string, error) {
	cmd := exec.Command("go", append([]string{"env"}, names...)...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) != len(names) {
		return nil, fmt.Errorf("go env: %d lines for %d names", len(lines), len(names))
	}
	env := map[string]string{}
	for i, n := range names {
		if lines[i] == "" {
			return nil, fmt.Errorf("go env %s is empty", n)
		}
		env[n] = lines[i]
	}
	return env, nil
}

// rule frames each module's line: a line of it above and below.
var rule = strings.Repeat("=", 80)

// licenceFile matches the names of licence files at a module's root.
var licenceFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice|patents|copyright|unlicense)([._-].*)?$`)

// write writes the notices of the binary info describes.
func write(w io.Writer, info *buildinfo.BuildInfo, mainLicense, modcache, goroot string) error {
	goos, goarch := setting(info, "GOOS"), setting(info, "GOARCH")
	fmt.Fprintf(w, "Licence notices of %s, built with %s for %s/%s\n\n", info.Path, info.GoVersion, goos, goarch)
	fmt.Fprintf(w, "The binary is the module %s, compiled with the modules below as\n", info.Main.Path)
	fmt.Fprintf(w, "`go version -m` lists them, and with the Go standard library and runtime.\n")
	fmt.Fprintf(w, "Each one's licence files follow, as its source holds them.\n\n")
	for _, m := range info.Deps {
		fmt.Fprintf(w, "  %s\n", moduleLine(m))
	}
	fmt.Fprintln(w)

	text, err := os.ReadFile(mainLicense)
	if err != nil {
		return fmt.Errorf("the main module's licence: %w", err)
	}
	section(w, info.Main.Path+" "+info.Main.Version)
	if err := file(w, filepath.Base(mainLicense), text); err != nil {
		return fmt.Errorf("%s: %w", mainLicense, err)
	}

	var missing []string
	for _, m := range info.Deps {
		src := m
		if m.Replace != nil {
			src = m.Replace
		}
		if src.Version == "" {
			// Replaced by a directory: not in the module cache.
			missing = append(missing, moduleLine(m)+": replaced by a directory, whose licence this program cannot find")
			continue
		}
		dir := filepath.Join(modcache, escape(src.Path)+"@"+escape(src.Version))
		files, err := licenceFiles(dir)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: %v (go mod download %s@%s)", moduleLine(m), err, src.Path, src.Version))
			continue
		}
		section(w, moduleLine(m))
		for _, f := range files {
			text, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return err
			}
			if err := file(w, f, text); err != nil {
				return fmt.Errorf("%s: %s: %w", moduleLine(m), f, err)
			}
		}
	}
	if len(missing) > 0 {
		return errors.New("no licence for:\n  " + strings.Join(missing, "\n  "))
	}

	text, err = os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		return fmt.Errorf("the licence of Go: %w", err)
	}
	section(w, "std "+info.GoVersion)
	if err := file(w, "LICENSE", text); err != nil {
		return fmt.Errorf("the licence of Go: %w", err)
	}
	if p, err := os.ReadFile(filepath.Join(goroot, "PATENTS")); err == nil {
		if err := file(w, "PATENTS", p); err != nil {
			return err
		}
	}
	return nil
}

// moduleLine is a module as `go version -m` shows it: path and version, and
// what replaces it.
func moduleLine(m *debug.Module) string {
	s := m.Path + " " + m.Version
	if r := m.Replace; r != nil {
		s += " => " + r.Path
		if r.Version != "" {
			s += " " + r.Version
		}
	}
	return s
}

func section(w io.Writer, title string) {
	fmt.Fprintf(w, "%s\n%s\n%s\n", rule, title, rule)
}

// file writes one licence file under its name.
func file(w io.Writer, name string, text []byte) error {
	// Leading blank lines and trailing space go; the first line keeps its
	// indentation (the Apache licence's title is centred).
	text = bytes.TrimRight(bytes.TrimLeft(text, "\r\n"), " \t\r\n")
	if len(bytes.TrimSpace(text)) == 0 {
		return errors.New("empty")
	}
	fmt.Fprintf(w, "\n--- %s\n\n%s\n\n", name, text)
	return nil
}

// licenceFiles lists the licence files at the root of a module's directory,
// sorted.
func licenceFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && licenceFile.MatchString(e.Name()) {
			files = append(files, e.Name())
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no licence file in " + dir)
	}
	slices.Sort(files)
	return files, nil
}

// escape is the module cache's case encoding of a path or version: each
// upper-case letter becomes '!' and its lower case
// (golang.org/x/mod/module.EscapePath).
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func setting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
