package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/stack/stacktest"
)

// TestDevInstallsWhatKratosNeeds runs scripts/dev.sh in a copy of the
// repository whose scripts/build-ory.sh only records that it ran, with
// dpkg-query, id and apt-get replaced by fakes: as root, gcc and libc6-dev
// (Kratos is built with cgo) are installed when missing, before Kratos is
// built; not as root, dev.sh stops and names them; when they are there,
// nothing is installed.
func TestDevInstallsWhatKratosNeeds(t *testing.T) {
	dev, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), "scripts", "dev.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		uid       string
		installed string // what the fake dpkg-query says is installed
		wantApt   string // the fake apt-get's log
		wantBuild bool   // build-ory.sh ran
		wantOut   string
	}{
		{name: "root, missing", uid: "0", installed: "",
			wantApt: "update -qq\ninstall -y -qq gcc libc6-dev\n", wantBuild: true},
		{name: "root, one missing", uid: "0", installed: "gcc",
			wantApt: "update -qq\ninstall -y -qq libc6-dev\n", wantBuild: true},
		{name: "not root, missing", uid: "1000", installed: "",
			wantOut: "missing Debian packages: gcc libc6-dev (run as root, or install them)"},
		{name: "installed", uid: "1000", installed: "gcc libc6-dev", wantBuild: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := t.TempDir()
			bin := t.TempDir()
			log := filepath.Join(t.TempDir(), "log")
			write := func(p, body string) {
				t.Helper()
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write(filepath.Join(repo, "scripts", "dev.sh"), string(dev))
			// Kratos's build is where the test stops.
			write(filepath.Join(repo, "scripts", "build-ory.sh"), "#!/bin/sh\necho build-ory >>"+log+"\nexit 42\n")
			write(filepath.Join(bin, "id"), "#!/bin/sh\necho "+tc.uid+"\n")
			// dpkg-query -W -f='${Status}' <package>
			write(filepath.Join(bin, "dpkg-query"), `#!/bin/sh
for a; do pkg=$a; done
for p in `+tc.installed+`; do
  if [ "$p" = "$pkg" ]; then echo "install ok installed"; exit 0; fi
done
exit 1
`)
			write(filepath.Join(bin, "apt-get"), "#!/bin/sh\necho \"$*\" >>"+log+".apt\n")
			cmd := exec.Command("bash", filepath.Join(repo, "scripts", "dev.sh"))
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			ranBuild := false
			if b, _ := os.ReadFile(log); strings.Contains(string(b), "build-ory") {
				ranBuild = true
			}
			apt, _ := os.ReadFile(log + ".apt")
			if string(apt) != tc.wantApt {
				t.Errorf("apt-get ran with\n%q\nwant\n%q", apt, tc.wantApt)
			}
			if ranBuild != tc.wantBuild {
				t.Errorf("build-ory.sh ran: %v, want %v (exit %v)\n%s", ranBuild, tc.wantBuild, err, out)
			}
			if !ranBuild && err == nil {
				t.Errorf("dev.sh exited 0 without building Kratos")
			}
			if !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("dev.sh said\n%s\nwant %q", out, tc.wantOut)
			}
		})
	}
}
