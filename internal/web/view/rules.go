package view

import "strings"

// Rules templ cannot know, next to the components that need them.

// TriggerName returns name if it may be written into data-hera-trigger or
// data-hera-onload: hera.js calls window[name], so only Kratos's own
// functions (oryWebAuthnLogin, oryPasskeyRegistration…) may appear there;
// anything else becomes "" and the button does nothing.
func TriggerName(name string) string {
	if len(name) <= 3 || !strings.HasPrefix(name, "ory") {
		return ""
	}
	for i := 3; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return ""
		}
	}
	return name
}

// ScriptAllowed reports whether a page may load the script at src: only
// Kratos's own scripts, served same-origin below Hera's Kratos proxy
// (prefix, e.g. https://login.example.com/api/kratos/), which the CSP also
// requires.
func ScriptAllowed(src, prefix string) bool {
	return prefix != "" && strings.HasPrefix(src, prefix) && !strings.Contains(src[len(prefix):], "..")
}
