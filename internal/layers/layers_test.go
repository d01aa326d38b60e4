package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/heraproject/hera/"

// rank is each package's layer, top (0) to bottom. A package may import
// only packages of a greater rank. Test support (rank -1) may import
// anything and be imported by tests, entry points and other test support
// only.
var rank = map[string]int{
	"cmd/hera": 0, "cmd/devstack": 0, "bench": 0, "scripts/vulngate": 0,
	"internal/web":      1,
	"internal/web/view": 2, "internal/guard": 2,
	"internal/attempt": 3, "internal/device": 3,
	"internal/lockout/memory": 4, "internal/lockout/postgres": 4, "internal/lockout/redis": 4,
	"internal/captcha": 4, "internal/redirect": 4, "internal/i18n": 4,
	"internal/kratos": 4, "internal/hydra": 4, "internal/doctor": 4,
	"internal/config": 4, "internal/metrics": 4, "internal/tracing": 4, "internal/logbuf": 4, "internal/stack": 4,
	"internal/lockout":   5,
	"internal/requestid": 6, "deploy/dev": 6,
	"internal/layers": 6,
	// Test support.
	"internal/stack/stacktest": -1, "internal/stack/dbtest": -1, "internal/webtest": -1,
	"internal/captcha/captchatest": -1, "internal/tracing/tracingtest": -1, "internal/lockout/storetest": -1, "e2e": -1, "deploy": -1,
}

func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		from, ok := rank[pkg]
		if !ok {
			t.Errorf("%s has no layer: add it to rank (and to docs/architecture.md)", pkg)
			continue
		}
		for _, imp := range f[1:] {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			to, ok := rank[dep]
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no layer", pkg, dep)
			case to == -1 && from > 0:
				t.Errorf("%s (layer %d) imports the test support package %s", pkg, from, dep)
			case from != -1 && to != -1 && to <= from:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", pkg, from, dep, to)
			}
		}
	}
}
