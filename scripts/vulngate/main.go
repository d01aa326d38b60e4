// Command vulngate reads govulncheck's JSON stream (-format json) on
// standard input and fails when the code calls a vulnerable function of a
// module Hera requires: those are fixed by upgrading that module. Calls
// into a vulnerable standard library are reported as warnings naming the Go
// release that fixes them: the toolchain is the machine's, upgraded by its
// operator, not by this repository.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// message is the part of govulncheck's protocol (v1) read here.
type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	summaries := map[string]string{}
	type called struct{ module, version, fixed string }
	found := map[string]called{} // OSV id → the module whose code is called
	dec := json.NewDecoder(in)
	for {
		var m message
		err := dec.Decode(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading govulncheck's output: %w", err)
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		// A finding whose innermost frame names a function is one the code
		// reaches; the others only import or require the package.
		if f := m.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			found[f.OSV] = called{f.Trace[0].Module, f.Trace[0].Version, f.FixedVersion}
		}
	}
	ids := make([]string, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var modules []string
	for _, id := range ids {
		c := found[id]
		line := fmt.Sprintf("%s %s@%s (fixed in %s): %s", id, c.module, c.version, c.fixed, summaries[id])
		if c.module == "stdlib" || c.module == "toolchain" {
			fmt.Fprintln(out, "warning: Go itself:", line)
			continue
		}
		modules = append(modules, line)
	}
	if len(modules) > 0 {
		return fmt.Errorf("the code calls vulnerable functions of required modules; upgrade them:\n  %s", strings.Join(modules, "\n  "))
	}
	fmt.Fprintf(out, "no called vulnerability in required modules (%d in the Go release, warned above)\n", len(ids)-len(modules))
	return nil
}
