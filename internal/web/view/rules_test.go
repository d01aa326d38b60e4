package view

import (
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

func TestTriggerName(t *testing.T) {
	for name, want := range map[string]string{
		"oryWebAuthnLogin": "oryWebAuthnLogin", "oryPasskeyLoginAutocompleteInit": "oryPasskeyLoginAutocompleteInit",
		"": "", "ory": "", "alert": "", "ory.x": "", "oryX()": "", "ory_x": "", "oryé": "", "constructor": "",
	} {
		if got := TriggerName(name); got != want {
			t.Errorf("TriggerName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestScriptAllowed(t *testing.T) {
	const prefix = "https://login.example.com/api/kratos/"
	for src, want := range map[string]bool{
		prefix + ".well-known/ory/webauthn.js":     true,
		"https://evil.example/webauthn.js":         false,
		prefix + "../static/x.js":                  false,
		"https://login.example.com/api/kratosx.js": false,
	} {
		if got := ScriptAllowed(src, prefix); got != want {
			t.Errorf("ScriptAllowed(%q) = %v, want %v", src, got, want)
		}
	}
	if ScriptAllowed(prefix+"x.js", "") {
		t.Error("a page without a prefix loads scripts")
	}
}

// TestHostileNamesAndScriptsStayOut renders a page whose flow carries a
// foreign script and trigger names that are not Kratos's.
func TestHostileNamesAndScriptsStayOut(t *testing.T) {
	p := &Page{Lang: "en", Dir: "ltr", ScriptPrefix: "http://localhost:4455/api/kratos/",
		Scripts: []Script{{Src: "https://evil.example/x.js"}, {Src: "http://localhost:4455/api/kratos/.well-known/ory/webauthn.js"}},
		T:       func(key string, _ ...any) string { return key }}
	f := &FlowPage{Forms: []Form{{ID: "f", Action: "/x", Items: []Item{
		{Kind: "trigger", Name: "b", Trigger: "alert", OnLoad: "eval", Label: "Go"},
		{Kind: "hidden", Name: "h", OnLoad: "oryPasskeyLoginAutocompleteInit"},
	}}}}
	var b strings.Builder
	if err := Layout(p, templ.Component(Flow(p, f))).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"evil.example", `data-hera-trigger="alert"`, `data-hera-onload="eval"`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %s", bad)
		}
	}
	for _, good := range []string{`src="http://localhost:4455/api/kratos/.well-known/ory/webauthn.js"`, `data-hera-onload="oryPasskeyLoginAutocompleteInit"`} {
		if !strings.Contains(page, good) {
			t.Errorf("page lacks %s", good)
		}
	}
}
