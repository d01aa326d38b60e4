package view

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestBuiltinProvider(t *testing.T) {
	for id, want := range map[string]string{
		"google": "google", "Google": "google", "google-work": "google", "github_app": "github", "github-app": "github",
		"gitlab": "gitlab", "microsoft": "microsoft", "apple": "apple", "apple.id": "apple",
		"googleplex": "", "hydra": "", "": "", "my-google": "", "acme": "",
	} {
		if got := BuiltinProvider(id); got != want {
			t.Errorf("BuiltinProvider(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestIsProviderButton(t *testing.T) {
	for _, tc := range []struct {
		it   Item
		want bool
	}{
		{Item{Kind: "submit", Name: "provider", Value: "google"}, true},
		{Item{Kind: "submit", Name: "link", Value: "google"}, true},
		{Item{Kind: "submit", Name: "unlink", Value: "google"}, true},
		{Item{Kind: "submit", Name: "method", Value: "password"}, false},
		{Item{Kind: "submit", Name: "totp_unlink", Value: "true"}, false},
		{Item{Kind: "submit", Name: "provider", Value: ""}, false},
		{Item{Kind: "hidden", Name: "provider", Value: "google"}, false},
	} {
		if got := IsProviderButton(&tc.it); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.it, got, tc.want)
		}
	}
}

// TestProviderButton: a real submit button whose only text is the label,
// with one logo hidden from screen readers: the configured image, a
// built-in SVG, or the neutral icon; nothing the CSP would block (style
// attributes, scripts, event handlers).
func TestProviderButton(t *testing.T) {
	p := &Page{Brand: Brand{SocialLogos: map[string]string{
		"acme": "https://cdn.example.com/acme.svg", "corp": "/logos/corp.png", "google": "/logos/g.png",
	}}}
	for _, tc := range []struct {
		id, name string
		want     string // logo element and a distinctive attribute
	}{
		{"acme", "provider", `<img class="social-logo" src="https://cdn.example.com/acme.svg"`},
		{"corp", "link", `<img class="social-logo" src="/logos/corp.png"`},
		{"google", "provider", `<img class="social-logo" src="/logos/g.png"`}, // the map wins
		{"github", "unlink", `viewBox="0 0 16 16"`},
		{"gitlab", "provider", `fill="#FC6D26"`},
		{"microsoft", "provider", `fill="#F25022"`},
		{"apple", "provider", `M12.152 6.896`},
		{"hydra", "provider", `stroke="currentColor"`}, // neutral
	} {
		it := &Item{Kind: "submit", Name: tc.name, Value: tc.id, Label: "Sign in with <" + tc.id + ">", NoValidate: true}
		var b strings.Builder
		if err := ProviderButton(p, it).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: no %s in\n%s", tc.id, tc.want, got)
		}
		if !strings.HasPrefix(got, `<button type="submit" name="`+tc.name+`" value="`+tc.id+`" class="secondary social" formnovalidate>`) {
			t.Errorf("%s: button %s", tc.id, got)
		}
		doc, err := html.Parse(strings.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		logos, hidden := 0, 0
		var walk func(n *html.Node, inLogo bool)
		walk = func(n *html.Node, inLogo bool) {
			if n.Type == html.ElementNode {
				for _, a := range n.Attr {
					if a.Key == "style" || strings.HasPrefix(a.Key, "on") || n.Data == "script" {
						t.Errorf("%s: <%s %s> would break or bypass the CSP", tc.id, n.Data, a.Key)
					}
					if a.Key == "class" && a.Val == "social-logo" {
						logos++
						inLogo = true
						for _, b := range n.Attr {
							if b.Key == "aria-hidden" && b.Val == "true" {
								hidden++
							}
						}
					}
				}
			}
			if n.Type == html.TextNode && !inLogo {
				text.WriteString(n.Data)
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c, inLogo)
			}
		}
		walk(doc, false)
		if logos != 1 || hidden != 1 {
			t.Errorf("%s: %d logos, %d hidden from screen readers", tc.id, logos, hidden)
		}
		if got := strings.Join(strings.Fields(text.String()), " "); got != it.Label {
			t.Errorf("%s: text %q, want the label", tc.id, got)
		}
	}
}
