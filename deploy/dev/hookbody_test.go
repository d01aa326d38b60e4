package dev

import (
	"os"
	"strings"
	"testing"
)

// TestHookBodyDocumented: docs/kratos-setup.md shows operators the very
// hook body Hera reads (Hera parses it strictly, so a stale copy would
// make every hook a 400).
func TestHookBodyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/kratos-setup.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```jsonnet\n"+string(HookBody)+"```\n") {
		t.Error("docs/kratos-setup.md does not show deploy/dev/kratos-hook.jsonnet as it is: copy the file into its jsonnet block")
	}
}
