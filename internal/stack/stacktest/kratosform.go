package stacktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// KratosForms is how Kratos's own code reads one value (bin/kratosform,
// built from tools/kratos/kratosform by scripts/build-ory.sh).
type KratosForms struct {
	// Password is what the password and security-key methods look an
	// account up by.
	Password string `json:"password"`
	// Code is what the code method looks an account up by and sends to.
	Code string `json:"code"`
	// Address is what recovery and verification look an address up by.
	Address string `json:"address"`
}

// ReadAsKratos returns, for each value, how Kratos v1.3.1's own code reads
// it, in order. A missing bin/kratosform fails the test.
func ReadAsKratos(t testing.TB, values []string) []KratosForms {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "bin", "kratosform")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("bin/kratosform is missing: run scripts/build-ory.sh (scripts/test.sh does): %v", err)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.SetEscapeHTML(false)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	res := make([]KratosForms, 0, len(values))
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var f KratosForms
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("kratosform: %v", err)
		}
		res = append(res, f)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kratosform: %v: %s", err, stderr.Bytes())
	}
	if len(res) != len(values) {
		t.Fatalf("kratosform answered %d values for %d", len(res), len(values))
	}
	return res
}
