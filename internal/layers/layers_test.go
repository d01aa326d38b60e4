package layers

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/heraproject/hera/"

// testSupport is the rank of the "Test support" row: imported by tests,
// entry points and other test support only.
const testSupport = -1

// repoRoot is the repository root (this package is internal/layers).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// ranks reads docs/architecture.md's layer table: each row is a layer, top
// (0) to bottom; the row "Test support" is testSupport. The document is the
// one map of the packages.
func ranks(t *testing.T) map[string]int {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "<!-- layers -->")
	table, _, ok2 := strings.Cut(table, "<!-- /layers -->")
	if !ok || !ok2 {
		t.Fatal("docs/architecture.md has no <!-- layers --> … <!-- /layers --> table")
	}
	pkg := regexp.MustCompile("`([a-z0-9/_.-]+)`")
	rank := map[string]int{}
	layer := 0
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "Layer" {
			continue
		}
		r := layer
		if strings.TrimSpace(cells[1]) == "Test support" {
			r = testSupport
		} else {
			layer++
		}
		for _, m := range pkg.FindAllStringSubmatch(cells[2], -1) {
			if _, dup := rank[m[1]]; dup {
				t.Errorf("docs/architecture.md lists %s twice", m[1])
			}
			rank[m[1]] = r
		}
	}
	if len(rank) < 20 {
		t.Fatalf("docs/architecture.md's layer table names %d packages: not read right", len(rank))
	}
	return rank
}

// testUp are the tests that import a package above theirs, as
// docs/architecture.md says: the lockout's tests run on the memory store,
// which implements its Store.
var testUp = map[string]string{"internal/lockout": "internal/lockout/memory"}

// listed is one package as `go list` sees it, with the integration tests'
// files: its imports, and its tests' (internal and external).
type listed struct {
	pkg, prod, tests []string
}

func list(t *testing.T) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "integration", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`, module+"...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []listed
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		ps = append(ps, listed{pkg: []string{strings.TrimPrefix(f[0], module)}, prod: ours(f[1]), tests: ours(f[2])})
	}
	return ps
}

// ours returns the module's packages among space-separated import paths.
func ours(s string) []string {
	var out []string
	for _, imp := range strings.Fields(s) {
		if p, ok := strings.CutPrefix(imp, module); ok {
			out = append(out, p)
		}
	}
	return out
}

// TestImportsPointDown: every package has a layer in docs/architecture.md,
// imports only packages of later layers, and imports test support only if it
// is test support or an entry point; its tests import packages of its own
// layer, later layers and test support, never one above (but testUp).
func TestImportsPointDown(t *testing.T) {
	rank := ranks(t)
	for _, p := range list(t) {
		pkg := p.pkg[0]
		from, ok := rank[pkg]
		if !ok {
			t.Errorf("%s has no layer: add it to docs/architecture.md's layer table (and the README's layout)", pkg)
			continue
		}
		for _, dep := range p.prod {
			to, ok := rank[dep]
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no layer", pkg, dep)
			case to == testSupport && from > 0:
				t.Errorf("%s (layer %d) imports the test support package %s", pkg, from, dep)
			case from != testSupport && to != testSupport && to <= from:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", pkg, from, dep, to)
			}
		}
		for _, dep := range p.tests {
			to, ok := rank[dep]
			switch {
			case from == testSupport, to == testSupport, testUp[pkg] == dep:
			case !ok:
				t.Errorf("%s's tests import %s, which has no layer", pkg, dep)
			case to < from:
				t.Errorf("%s's tests (layer %d) import %s (layer %d): tests import their own layer, later layers and test support", pkg, from, dep, to)
			}
		}
	}
}

// TestReadmeLayout: the README's layout lists every package of the layer
// table (on its own line, or named in its parent's line as "name/"), and
// every path it lists exists.
func TestReadmeLayout(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "## Layout\n\n```\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no ## Layout block")
	}
	lines := map[string]string{} // leading path → rest of the line
	for _, line := range strings.Split(block, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		for _, p := range strings.Split(f[0], ",") {
			p = strings.TrimSuffix(p, "/")
			lines[p] = line
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("README's layout lists %s, which does not exist", p)
			}
		}
	}
	for pkg := range ranks(t) {
		if _, ok := lines[pkg]; ok {
			continue
		}
		parent, base := filepath.Dir(pkg), filepath.Base(pkg)
		if l, ok := lines[parent]; ok && strings.Contains(l, base+"/") {
			continue
		}
		t.Errorf("README's layout does not list %s (a line of its own, or %q in %s's line)", pkg, base+"/", parent)
	}
}
