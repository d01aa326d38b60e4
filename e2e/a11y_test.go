package e2e_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestAccessibility checks what axe-core cannot: keyboard-only use, focus
// order and a visible focus indicator; and axe itself, in dark mode too.
func TestAccessibility(t *testing.T) {
	began := time.Now()
	s := start(t)

	t.Run("axe finds a violation when there is one", func(t *testing.T) {
		// Guards against an audit that silently checks nothing.
		b := s.newTab(t)
		b.open("/login")
		b.do("remove a label", chromedp.Evaluate[chromedp.Void](`document.querySelector('label[for="form-login-identifier"]').remove()`))
		vs := b.axe()
		if !slices.ContainsFunc(vs, func(v axeViolation) bool { return v.ID == "label" && v.Impact == "critical" }) {
			t.Fatalf("axe did not report the missing label: %+v", vs)
		}
	})

	t.Run("a CSP violation is caught", func(t *testing.T) {
		// Guards the console watcher every journey relies on.
		b := s.newTab(t)
		b.open("/login")
		b.do("add an inline script", chromedp.Evaluate[chromedp.Void](
			`const el = document.createElement("script"); el.textContent = "window.inlineRan = true"; document.body.append(el)`))
		deadline := time.Now().Add(5 * time.Second)
		for len(b.consoleProblems()) == 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		p := b.consoleProblems()
		if len(p) == 0 || !strings.Contains(p[0], "Content Security Policy") {
			t.Fatalf("CSP violation not reported: %q", p)
		}
		if evaluate[bool](b, `window.inlineRan === true`) {
			t.Error("Hera's CSP let an inline script run")
		}
		b.mu.Lock()
		b.problems = nil // expected
		b.mu.Unlock()
	})

	t.Run("keyboard only: skip link, fields, Enter signs in", func(t *testing.T) {
		b := s.newTab(t)
		email := newEmail("keys")
		s.createUser(t, email, password)
		b.open("/login")

		// The first Tab reaches the skip link, which then shows on screen.
		b.press(kb.Tab)
		f := b.focused()
		if f.Text != "Skip to content" || !f.OnScreen {
			t.Fatalf("first Tab: %+v, want the skip link, on screen", f)
		}
		// Enter follows it; the next Tab is in the main content: the e-mail field.
		b.press(kb.Enter)
		b.press(kb.Tab)
		if f := b.focused(); f.ID != "form-login-identifier" {
			t.Fatalf("Tab after the skip link: %+v, want the e-mail field", f)
		}
		b.press(email)
		b.press(kb.Tab)
		if f := b.focused(); f.ID != "form-login-password" {
			t.Fatalf("Tab after the e-mail field: %+v, want the password field", f)
		}
		b.press(password)
		ctx, cancel := b.timeout()
		defer cancel()
		if _, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter)); err != nil {
			b.fatalf("Enter in the password field: %v", err)
		}
		b.mustBeAt("/")
		b.mustSee("signed in as " + email)
	})

	t.Run("focus order and visible focus", func(t *testing.T) {
		b := s.newTab(t)
		b.open("/login")
		stops := b.tabThrough()
		want := []string{
			"Skip to content", "Hera", "#form-login-identifier", "#form-login-password",
			"Sign in with password", "Send sign in code", "Sign in with passkey", "Forgot password?", "Create an account",
			"Deutsch", "Español", "Français", // the language switcher in the footer
		}
		if got := names(stops); !slices.Equal(got, want) {
			t.Errorf("login focus order:\n got %q\nwant %q", got, want)
		}

		email := newEmail("focus")
		s.createUser(t, email, password)
		b.login(email, password)
		b.mustBeAt("/")
		for _, path := range []string{"/", "/settings", "/sessions", "/apps", "/settings/delete", "/logout"} {
			b.open(path)
			if stops := b.tabThrough(); len(stops) < 3 {
				t.Errorf("%s: only %d focus stops: %q", path, len(stops), names(stops))
			}
		}
	})

	t.Run("dark mode", func(t *testing.T) {
		b := s.newTab(t)
		b.preferDark()
		email := newEmail("dark")
		s.createUser(t, email, password)
		b.login(email, "not the password")
		b.mustSee("credentials are invalid")
		b.check("dark-login-error")
		b.tabThrough()
		b.login(email, password)
		b.mustBeAt("/")
		b.open("/settings")
		b.check("dark-settings")
		b.tabThrough()
	})

	t.Logf("accessibility checks took %s", time.Since(began).Round(time.Millisecond))
}

// focusStop describes the focused element.
type focusStop struct {
	Tag          string  `json:"tag"`
	ID           string  `json:"id"`
	Text         string  `json:"text"`
	OnScreen     bool    `json:"onScreen"`     // inside the viewport
	FocusVisible bool    `json:"focusVisible"` // matches :focus-visible
	Outline      string  `json:"outline"`      // computed outline, and the background around it
	OutlineWidth float64 `json:"outlineWidth"` // px
	Contrast     float64 `json:"contrast"`     // outline colour against that background
}

func (f focusStop) name() string {
	if f.Text != "" {
		return f.Text
	}
	return "#" + f.ID
}

func names(fs []focusStop) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.name())
	}
	return out
}

// focusedJS describes document.activeElement; null when nothing is focused.
const focusedJS = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const lum = c => {
    const m = c.match(/[\d.]+/g).map(Number);
    const [r, g, b] = m.slice(0, 3).map(v => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const opaque = c => { const m = c.match(/[\d.]+/g); return m && (m.length < 4 || Number(m[3]) > 0); };
  let bg = "rgb(255, 255, 255)";
  for (let p = el.parentElement; p; p = p.parentElement) {
    const c = getComputedStyle(p).backgroundColor;
    if (opaque(c)) { bg = c; break; }
  }
  const st = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const [l1, l2] = [lum(st.outlineColor), lum(bg)].sort((a, b) => b - a);
  return {
    tag: el.tagName.toLowerCase(), id: el.id,
    text: (el.innerText || el.value || "").trim().replace(/\s+/g, " ").slice(0, 60),
    onScreen: r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight,
    focusVisible: el.matches(":focus-visible"),
    outline: st.outlineStyle + " " + st.outlineWidth + " " + st.outlineColor + " on " + bg,
    outlineWidth: parseFloat(st.outlineWidth) || 0,
    contrast: (l1 + 0.05) / (l2 + 0.05),
  };
})()`

// focused describes the focused element.
func (b *tab) focused() focusStop {
	b.t.Helper()
	p := evaluate[*focusStop](b, focusedJS)
	if p == nil {
		return focusStop{}
	}
	f := *p
	if f.Tag == "input" || f.Tag == "select" || f.Tag == "textarea" {
		f.Text = "" // named by id: values change
	}
	return f
}

// press types keys (kb.Tab, kb.Enter, text) into the focused element.
func (b *tab) press(keys string) {
	b.t.Helper()
	b.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// tabThrough presses Tab from the top of the page until focus leaves it,
// and checks that every stop shows a focus indicator: a solid outline at
// least 2 px wide with 3:1 contrast against what surrounds it (WCAG 2.2
// SC 1.4.11 and 2.4.7).
func (b *tab) tabThrough() []focusStop {
	b.t.Helper()
	b.do("start at the top", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`))
	var stops []focusStop
	for range 60 {
		b.press(kb.Tab)
		f := b.focused()
		if f.Tag == "" || (len(stops) > 0 && f == stops[0]) {
			break
		}
		if !f.FocusVisible || !strings.HasPrefix(f.Outline, "solid") || f.OutlineWidth < 2 || f.Contrast < 3 {
			b.t.Errorf("%s: focus on %s (%s) is not clearly visible: focus-visible %v, outline %s, contrast %.2f:1",
				b.path(), f.name(), f.Tag, f.FocusVisible, f.Outline, f.Contrast)
		}
		stops = append(stops, f)
	}
	return stops
}
