package web_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestIdentifierFirstAccountLine renders the second step of a recorded
// flow with a hostile identifier and return_to: the account line escapes
// the one, and "Use another account" carries the other as a query value.
func TestIdentifierFirstAccountLine(t *testing.T) {
	f := fixtureNamed(t, "login_identifier_first_methods")
	var flow map[string]any
	if err := json.Unmarshal(f.raw, &flow); err != nil {
		t.Fatal(err)
	}
	const hostile = `<b>x</b>"'&@example.com`
	found := false
	for _, n := range flow["ui"].(map[string]any)["nodes"].([]any) {
		n := n.(map[string]any)
		if a := n["attributes"].(map[string]any); a["name"] == "identifier" && n["group"] == "identifier_first" {
			a["value"], found = hostile, true
		}
	}
	if !found {
		t.Fatal("the fixture has no identifier-first identifier")
	}
	flow["return_to"] = "http://localhost:4455/sessions?a=1&b=<x>"
	var err error
	if f.raw, err = json.Marshal(flow); err != nil {
		t.Fatal(err)
	}
	page := renderFixture(t, f)
	if want := `Signing in as <strong>&lt;b&gt;x&lt;/b&gt;&#34;&#39;&amp;@example.com</strong>`; !strings.Contains(page, want) {
		t.Errorf("account line not escaped as %s:\n%s", want, page)
	}
	if strings.Contains(page, "<b>x</b>") {
		t.Error("the identifier's markup is on the page")
	}
	want := `<a href="/login?return_to=` + url.QueryEscape("http://localhost:4455/sessions?a=1&b=<x>") + `">Use another account</a>`
	if !strings.Contains(page, want) {
		t.Errorf("no link %s:\n%s", want, page)
	}
	for _, p := range checkPage(page, f.kind, f.id) {
		t.Error(p)
	}
}
