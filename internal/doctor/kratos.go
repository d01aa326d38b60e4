package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// flowJSON is the part of a Kratos flow the checks read.
type flowJSON struct {
	ID string `json:"id"`
	UI struct {
		Action string `json:"action"`
		Nodes  []struct {
			Group      string `json:"group"`
			Attributes struct {
				Name  string `json:"name"`
				Value any    `json:"value"`
			} `json:"attributes"`
		} `json:"nodes"`
	} `json:"ui"`
}

// hasInput reports whether the flow's form has an input name in group.
func (f *flowJSON) hasInput(group, name string) bool {
	for _, n := range f.UI.Nodes {
		if n.Group == group && n.Attributes.Name == name {
			return true
		}
	}
	return false
}

// csrfToken is the form's csrf_token.
func (f *flowJSON) csrfToken() string {
	for _, n := range f.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			s, _ := n.Attributes.Value.(string)
			return s
		}
	}
	return ""
}

// kratosError is Kratos's JSON error.
type kratosError struct {
	Error struct {
		ID     string `json:"id"`
		Code   int    `json:"code"`
		Reason string `json:"reason"`
		Msg    string `json:"message"`
	} `json:"error"`
}

func (e kratosError) String() string {
	s := e.Error.Reason
	if s == "" {
		s = e.Error.Msg
	}
	if e.Error.ID != "" {
		s += " (" + e.Error.ID + ")"
	}
	return s
}

func (d *doctor) kratosPublic(path string) string {
	return strings.TrimSuffix(d.o.KratosPublicURL.String(), "/") + path
}

func (d *doctor) kratosAdmin(path string) string {
	return strings.TrimSuffix(d.o.KratosAdminURL.String(), "/") + path
}

// newLoginFlow starts a browser login flow as JSON and returns it with the
// cookies Kratos set.
func (d *doctor) newLoginFlow(ctx context.Context, returnTo string) (*answer, *flowJSON, error) {
	u := d.kratosPublic("/self-service/login/browser")
	if returnTo != "" {
		u += "?" + url.Values{"return_to": {returnTo}}.Encode()
	}
	a, err := d.do(ctx, http.MethodGet, u, nil, "application/json", nil)
	if err != nil {
		return nil, nil, err
	}
	if a.StatusCode != http.StatusOK {
		return a, nil, nil
	}
	var f flowJSON
	if err := json.Unmarshal(a.body, &f); err != nil || f.ID == "" {
		return a, nil, fmt.Errorf("GET /self-service/login/browser: not a flow: %.200s", a.body)
	}
	return a, &f, nil
}

// kratos makes Kratos's checks.
func (d *doctor) kratos(ctx context.Context) []Result {
	var out []Result
	a, f, err := d.newLoginFlow(ctx, "")
	switch {
	case err != nil:
		return []Result{{
			Check: "kratos.public", Status: Fail,
			Message: fmt.Sprintf("Kratos's public API at %s does not answer: %v", d.o.KratosPublicURL, err),
			Setting: "KRATOS_PUBLIC_URL (Hera's environment): where Hera reaches Kratos's public API",
			Fix:     "KRATOS_PUBLIC_URL=http://kratos:4433   # Kratos's serve.public.host and port, as Hera reaches them",
		}}
	case f == nil:
		return []Result{{
			Check: "kratos.public", Status: Fail,
			Message: fmt.Sprintf("Kratos's public API at %s answers a new sign-in with %d, not a flow: %s",
				d.o.KratosPublicURL, a.StatusCode, describeError(a)),
			Setting: "KRATOS_PUBLIC_URL (Hera's environment): where Hera reaches Kratos's public API",
			Fix:     "KRATOS_PUBLIC_URL=http://kratos:4433   # Kratos's serve.public.host and port, as Hera reaches them",
		}}
	}
	out = append(out, d.checkBaseURL(f.UI.Action))
	if c := csrfCookie(a.Cookies()); c == nil {
		out = append(out, Result{
			Check: "kratos.cookie.csrf", Status: Fail,
			Message: "Kratos set no CSRF cookie (csrf_token_…) when it started a sign-in: every form would fail its CSRF check",
			Setting: "a proxy between Hera and Kratos that drops Set-Cookie, or Kratos's CSRF protection",
			Fix:     "let Kratos's Set-Cookie headers through to Hera unchanged",
		})
	} else {
		out = append(out, d.checkCookie(csrfKind, c)...)
	}
	for _, k := range []string{"login", "registration", "recovery", "verification"} {
		out = append(out, d.checkFlowUI(ctx, k))
	}
	out = append(out, d.checkErrorUI(ctx))
	out = append(out, d.checkOAuth2Provider(ctx))
	out = append(out, d.checkReturnTo(ctx, d.hera+"/", "Hera's own pages", true))
	for _, rt := range d.o.AllowedReturnURLs {
		out = append(out, d.checkReturnTo(ctx, rt, "", false))
	}
	out = append(out, d.checkSession(ctx)...)
	if d.o.KratosVersion != "" {
		out = append(out, d.checkVersion(ctx))
	}
	return out
}

// checkVersion warns when Kratos is not the release whose reading of
// identifiers, addresses and session cookies Hera's counters mirror: a
// Kratos that normalizes differently could resolve two spellings to one
// account that Hera counts apart.
func (d *doctor) checkVersion(ctx context.Context) Result {
	const id = "kratos.version"
	a, err := d.do(ctx, http.MethodGet, d.kratosAdmin("/admin/version"), nil, "application/json", nil)
	var v struct {
		Version string `json:"version"`
	}
	if err != nil || a.StatusCode != http.StatusOK || json.Unmarshal(a.body, &v) != nil || v.Version == "" {
		return Result{Check: id, Status: Skip, Message: "Kratos's version could not be read from its admin API (GET /admin/version)"}
	}
	if v.Version == d.o.KratosVersion {
		return Result{Check: id, Status: Pass, Message: "Kratos is " + v.Version + ", the release whose reading of identifiers, addresses and session cookies Hera mirrors"}
	}
	return Result{
		Check: id, Status: Warn,
		Message: fmt.Sprintf("Kratos is %s, not %s: Hera's brute-force counters and send quotas mirror how Kratos %s reads identifiers, addresses and session cookies, and another release may read them differently",
			v.Version, d.o.KratosVersion, d.o.KratosVersion),
		Setting: "the Kratos release (its image tag, or the build's github.com/ory/kratos/driver/config.Version)",
		Fix:     "run Kratos " + d.o.KratosVersion + ", or a Hera release made for your Kratos (see docs/abuse-protection.md)",
	}
}

// describeError is Kratos's error message in a, or its status.
func describeError(a *answer) string {
	var e kratosError
	if json.Unmarshal(a.body, &e) == nil && (e.Error.Reason != "" || e.Error.Msg != "") {
		return e.String()
	}
	if len(a.body) > 0 && len(a.body) < 200 && !strings.Contains(string(a.body), "<") {
		return strings.TrimSpace(string(a.body))
	}
	return http.StatusText(a.StatusCode)
}

// checkBaseURL: Kratos builds form actions from serve.public.base_url, which
// must be Hera's /api/kratos/.
func (d *doctor) checkBaseURL(action string) Result {
	want := d.hera + "/api/kratos/"
	base := withoutQuery(action)
	if i := strings.Index(base, "self-service/login"); i >= 0 {
		base = base[:i]
	}
	if strings.HasPrefix(action, want) {
		return Result{Check: "kratos.base_url", Status: Pass,
			Message: "Kratos builds form actions under Hera's " + want}
	}
	return Result{
		Check: "kratos.base_url", Status: Fail,
		Message: fmt.Sprintf("Kratos builds form actions under %s, not under Hera's %s: browsers would post there, past Hera's checks, or fail to reach it",
			base, want),
		Setting: "serve.public.base_url (kratos.yml; environment SERVE_PUBLIC_BASE_URL)",
		Fix:     yaml([]string{"serve", "public", "base_url"}, want),
	}
}

// checkFlowUI starts a browser flow of kind and checks where Kratos sends
// the browser: selfservice.flows.<kind>.ui_url, which must be Hera's page.
func (d *doctor) checkFlowUI(ctx context.Context, kind string) Result {
	id := "kratos.ui_url." + kind
	a, err := d.do(ctx, http.MethodGet, d.kratosPublic("/self-service/"+kind+"/browser"), nil, "", nil)
	if err != nil {
		return Result{Check: id, Status: Fail, Message: fmt.Sprintf("Kratos did not start a %s flow: %v", kind, err)}
	}
	loc, ok := location(a)
	if !ok {
		return Result{Check: id, Status: Fail,
			Message: fmt.Sprintf("Kratos answered a new %s flow with %d, not a redirect to its UI: %s", kind, a.StatusCode, describeError(a))}
	}
	if q := loc.Query(); q.Get("flow") == "" && q.Get("id") != "" {
		// Kratos could not start the flow and shows its error page: ask
		// again for JSON to learn why.
		why := "unknown"
		if j, err := d.do(ctx, http.MethodGet, d.kratosPublic("/self-service/"+kind+"/browser"), nil, "application/json", nil); err == nil {
			why = describeError(j)
		}
		if strings.Contains(why, "disabled") {
			return Result{Check: id, Status: Skip,
				Message: fmt.Sprintf("Kratos's %s UI is not checked: %s is switched off in Kratos (selfservice.flows.%s.enabled)", kind, kind, kind)}
		}
		return Result{Check: id, Status: Fail, Message: fmt.Sprintf("Kratos could not start a %s flow: %s", kind, why)}
	}
	return d.compareUI(id, loc, d.hera+"/"+kind, "Kratos's "+kind+" UI",
		"selfservice.flows."+kind+".ui_url", []string{"selfservice", "flows", kind, "ui_url"})
}

// checkErrorUI makes Kratos show its error page (a sign-in asking to return
// to a URL no one allows) and checks where: selfservice.flows.error.ui_url.
func (d *doctor) checkErrorUI(ctx context.Context) Result {
	const id = "kratos.ui_url.error"
	u := d.kratosPublic("/self-service/login/browser?" + url.Values{"return_to": {refusedReturnTo}}.Encode())
	a, err := d.do(ctx, http.MethodGet, u, nil, "", nil)
	if err != nil {
		return Result{Check: id, Status: Fail, Message: fmt.Sprintf("Kratos's error UI not checked: %v", err)}
	}
	loc, ok := location(a)
	if !ok || loc.Query().Get("id") == "" {
		return Result{Check: id, Status: Skip,
			Message: "Kratos's error UI is not checked: Kratos did not refuse return_to=" + refusedReturnTo + " (is a wildcard in selfservice.allowed_return_urls?)"}
	}
	return d.compareUI(id, loc, d.hera+"/error", "Kratos's error UI",
		"selfservice.flows.error.ui_url", []string{"selfservice", "flows", "error", "ui_url"})
}

// refusedReturnTo is a return URL no Kratos should allow (.invalid is
// reserved, RFC 2606).
const refusedReturnTo = "https://hera-doctor.invalid/"

// compareUI checks that loc, where Kratos sent the browser, is want.
func (d *doctor) compareUI(id string, loc *url.URL, want, what, key string, path []string) Result {
	got := withoutQuery(loc.String())
	if sameURL(got, want) {
		return Result{Check: id, Status: Pass, Message: fmt.Sprintf("%s is Hera's %s", what, want)}
	}
	return Result{
		Check: id, Status: Fail,
		Message: fmt.Sprintf("%s is %s, not Hera's %s", what, got, want),
		Setting: fmt.Sprintf("%s (kratos.yml; environment %s)", key, envName(key)),
		Fix:     yaml(path, want),
	}
}

// checkReturnTo asks Kratos for a sign-in that returns to rt and reports
// whether Kratos allows it (selfservice.allowed_return_urls).
func (d *doctor) checkReturnTo(ctx context.Context, rt, what string, own bool) Result {
	id := "kratos.return_to"
	name := "return_to " + rt
	if what != "" {
		name = "return_to " + rt + " (" + what + ")"
	} else {
		name += " (HERA_ALLOWED_RETURN_URLS)"
	}
	a, f, err := d.newLoginFlow(ctx, rt)
	if err != nil {
		return Result{Check: id, Status: Fail, Message: fmt.Sprintf("Kratos did not answer whether it allows %s: %v", name, err)}
	}
	if f != nil {
		return Result{Check: id, Status: Pass, Message: "Kratos allows " + name}
	}
	var e kratosError
	_ = json.Unmarshal(a.body, &e)
	if e.Error.ID != "self_service_flow_return_to_forbidden" {
		return Result{Check: id, Status: Fail,
			Message: fmt.Sprintf("Kratos did not answer whether it allows %s: %d %s", name, a.StatusCode, describeError(a))}
	}
	why := "sign-ins that are to return there end on the error page instead"
	if own {
		why = "sign-ins Hera starts for its own pages (OAuth2 logins, the sessions page, re-authentication) end on the error page instead"
	}
	return Result{
		Check: id, Status: Fail,
		Message: fmt.Sprintf("Kratos refuses %s: %s", name, why),
		Setting: "selfservice.allowed_return_urls (kratos.yml; a list: keep the entries already there)",
		Fix:     "selfservice:\n  allowed_return_urls:\n    - " + rt,
	}
}

// location is a redirect's target.
func location(a *answer) (*url.URL, bool) {
	if a.StatusCode < 300 || a.StatusCode > 399 {
		return nil, false
	}
	u, err := a.Location()
	return u, err == nil
}

// sameURL reports whether two absolute URLs name the same page: scheme and
// host compared without case and default port, paths exactly.
func sameURL(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && hostPort(ua) == hostPort(ub) && orSlash(ua.EscapedPath()) == orSlash(ub.EscapedPath())
}

func hostPort(u *url.URL) string {
	h, p := strings.ToLower(u.Hostname()), u.Port()
	if p == "" || (p == "80" && strings.EqualFold(u.Scheme, "http")) || (p == "443" && strings.EqualFold(u.Scheme, "https")) {
		return h
	}
	return h + ":" + p
}

func orSlash(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// yaml renders value at a path of keys as YAML.
func yaml(path []string, value string) string {
	var b strings.Builder
	for i, k := range path {
		b.WriteString(strings.Repeat("  ", i) + k + ":")
		if i == len(path)-1 {
			b.WriteString(" " + value)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// envName is the environment variable that overrides an Ory configuration
// key: serve.public.base_url → SERVE_PUBLIC_BASE_URL.
func envName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
