package doctor

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

func (d *doctor) hydraAdmin(path string) string {
	return strings.TrimSuffix(d.o.HydraAdminURL.String(), "/") + path
}

func (d *doctor) hydraPublic(path string) string {
	return strings.TrimSuffix(d.o.HydraPublicURL.String(), "/") + path
}

// hydraURL is one of Hydra's urls.* and the Hera page it must be.
type hydraURL struct {
	key  string // urls.login
	page string // /login
	what string
}

var (
	hydraLogin        = hydraURL{"urls.login", "/login", "Hydra's login URL (sign-ins for OAuth2 clients)"}
	hydraConsent      = hydraURL{"urls.consent", "/consent", "Hydra's consent URL"}
	hydraLogout       = hydraURL{"urls.logout", "/logout", "Hydra's logout URL"}
	hydraError        = hydraURL{"urls.error", "/oauth2/error", "Hydra's error URL"}
	hydraRegistration = hydraURL{"urls.registration", "/registration", "Hydra's registration URL (prompt=registration)"}
)

// check compares where Hydra sent the browser with Hera's page.
func (d *doctor) checkHydraURL(u hydraURL, loc *url.URL) Result {
	want := d.hera + u.page
	got := withoutQuery(loc.String())
	id := "hydra." + u.key
	if sameURL(got, want) {
		return Result{Check: id, Status: Pass, Message: fmt.Sprintf("%s is Hera's %s", u.what, want)}
	}
	return Result{
		Check: id, Status: Fail,
		Message: fmt.Sprintf("%s is %s, not Hera's %s", u.what, got, want),
		Setting: fmt.Sprintf("%s (hydra.yml; environment %s)", u.key, envName(u.key)),
		Fix:     yaml(strings.Split(u.key, "."), want),
	}
}

// cookieBox keeps the cookies Hydra sets, as a browser would (by name;
// Hydra's are all for its public host).
type cookieBox []*http.Cookie

func (b *cookieBox) add(cs []*http.Cookie) { *b = mergeCookies(*b, cs) }

// hydra makes Hydra's checks through a temporary OAuth2 client: an
// authorization request shows the login URL; accepting its login (the
// admin API, as Hera would) leads to the consent URL, which is rejected;
// the login session it left leads OpenID Connect logout to the logout URL;
// an unknown client to the error URL; prompt=registration to the
// registration URL. The client, the login session and the open requests
// are removed afterwards.
func (d *doctor) hydra(ctx context.Context) []Result {
	if d.o.HydraPublicURL == nil {
		return []Result{{Check: "hydra.urls", Status: Skip,
			Message: "Hydra's login, consent and logout URLs are not checked: Hydra's public URL is not known (HYDRA_PUBLIC_URL, or hera doctor -hydra-public-url)"}}
	}
	clientID := "hera-doctor-" + randomHex(8)
	subject := clientID
	redirect := "http://127.0.0.1/hera-doctor/callback"
	created, err := d.do(ctx, http.MethodPost, d.hydraAdmin("/admin/clients"), map[string]any{
		"client_id":                  clientID,
		"client_name":                "hera doctor (temporary)",
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"scope":                      "openid",
		"redirect_uris":              []string{redirect},
		"token_endpoint_auth_method": "none",
	}, "application/json", nil)
	if err != nil {
		return []Result{{
			Check: "hydra.admin", Status: Fail,
			Message: fmt.Sprintf("Hydra's admin API at %s does not answer: %v", d.o.HydraAdminURL, err),
			Setting: "HYDRA_ADMIN_URL (Hera's environment): where Hera reaches Hydra's admin API",
			Fix:     "HYDRA_ADMIN_URL=http://hydra:4445   # Hydra's serve.admin.host and port, as Hera reaches them",
		}}
	}
	if created.StatusCode != http.StatusCreated {
		return []Result{{Check: "hydra.admin", Status: Fail,
			Message: fmt.Sprintf("Hydra's admin API did not create a temporary OAuth2 client: %d %s", created.StatusCode, hydraErrorText(created))}}
	}
	defer cleanup(ctx, func(ctx context.Context) {
		_, _ = d.do(ctx, http.MethodDelete, d.hydraAdmin("/admin/oauth2/auth/sessions/login?"+url.Values{"subject": {subject}}.Encode()), nil, "", nil)
		_, _ = d.do(ctx, http.MethodDelete, d.hydraAdmin("/admin/clients/"+url.PathEscape(clientID)), nil, "", nil)
	})

	authorize := func(extra url.Values, client string) string {
		verifier := randomHex(32)
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{
			"client_id": {client}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirect},
			"state": {randomHex(12)}, "nonce": {randomHex(12)},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		}
		for k, v := range extra {
			q[k] = v
		}
		return d.hydraPublic("/oauth2/auth?" + q.Encode())
	}
	publicDown := func(err error) []Result {
		return []Result{{
			Check: "hydra.public", Status: Fail,
			Message: fmt.Sprintf("Hydra's public API at %s does not answer: %v", d.o.HydraPublicURL, err),
			Setting: "HYDRA_PUBLIC_URL (hera doctor -hydra-public-url): where the doctor reaches Hydra's public API",
			Fix:     "HYDRA_PUBLIC_URL=http://hydra:4444   # Hydra's serve.public.host and port, as Hera reaches them",
		}}
	}

	var out []Result
	var box cookieBox
	// Login.
	a, err := d.do(ctx, http.MethodGet, authorize(nil, clientID), nil, "", nil)
	if err != nil {
		return publicDown(err)
	}
	box.add(a.Cookies())
	loc, ok := location(a)
	challenge := ""
	if ok {
		challenge = loc.Query().Get("login_challenge")
	}
	if challenge == "" {
		return append(out, Result{Check: "hydra.urls.login", Status: Fail,
			Message: fmt.Sprintf("Hydra answered an authorization request with %d%s, not a redirect to its login URL", a.StatusCode, hydraRedirectError(loc))})
	}
	out = append(out, d.checkHydraURL(hydraLogin, loc))

	// Consent: accept the login as Hera would, follow Hydra back.
	acc, err := d.do(ctx, http.MethodPut, d.hydraAdmin("/admin/oauth2/auth/requests/login/accept?"+url.Values{"login_challenge": {challenge}}.Encode()),
		map[string]any{"subject": subject, "remember": true, "remember_for": 60}, "application/json", nil)
	if err != nil || acc.StatusCode != http.StatusOK {
		return append(out, Result{Check: "hydra.urls.consent", Status: Skip,
			Message: "Hydra's consent and logout URLs are not checked: accepting the login failed: " + errOrStatus(err, acc)})
	}
	next, err := d.followHydra(ctx, acc, &box)
	if err != nil {
		return append(out, Result{Check: "hydra.urls.consent", Status: Skip,
			Message: "Hydra's consent and logout URLs are not checked: " + err.Error()})
	}
	if c := next.Query().Get("consent_challenge"); c != "" {
		out = append(out, d.checkHydraURL(hydraConsent, next))
		_, _ = d.do(ctx, http.MethodPut, d.hydraAdmin("/admin/oauth2/auth/requests/consent/reject?"+url.Values{"consent_challenge": {c}}.Encode()),
			map[string]any{"error": "access_denied", "error_description": "hera doctor"}, "application/json", nil)
	} else {
		out = append(out, Result{Check: "hydra.urls.consent", Status: Skip,
			Message: "Hydra's consent URL is not checked: after the login Hydra went to " + withoutQuery(next.String())})
	}

	// Logout: the login session just made leads to the logout URL.
	lo, err := d.do(ctx, http.MethodGet, d.hydraPublic("/oauth2/sessions/logout"), nil, "", box)
	switch loc, ok := locationOf(lo, err); {
	case err != nil:
		out = append(out, Result{Check: "hydra.urls.logout", Status: Skip, Message: "Hydra's logout URL is not checked: " + err.Error()})
	case !ok || loc.Query().Get("logout_challenge") == "":
		got := "no redirect"
		if ok {
			got = withoutQuery(loc.String())
		}
		out = append(out, Result{Check: "hydra.urls.logout", Status: Skip,
			Message: "Hydra's logout URL is not checked: logging out went to " + got + " (no login session?)"})
	default:
		out = append(out, d.checkHydraURL(hydraLogout, loc))
		_, _ = d.do(ctx, http.MethodPut, d.hydraAdmin("/admin/oauth2/auth/requests/logout/reject?"+
			url.Values{"logout_challenge": {loc.Query().Get("logout_challenge")}}.Encode()), nil, "", nil)
	}

	// Registration: prompt=registration.
	r, err := d.do(ctx, http.MethodGet, authorize(url.Values{"prompt": {"registration"}}, clientID), nil, "", nil)
	if loc, ok := locationOf(r, err); ok && loc.Query().Get("login_challenge") != "" {
		res := d.checkHydraURL(hydraRegistration, loc)
		if res.Status == Fail && sameURL(withoutQuery(loc.String()), d.hera+"/login") {
			res = Result{Check: res.Check, Status: Pass, Message: "Hydra's registration URL is unset: prompt=registration goes to Hera's " + d.hera + "/login"}
		}
		out = append(out, res)
		_, _ = d.do(ctx, http.MethodPut, d.hydraAdmin("/admin/oauth2/auth/requests/login/reject?"+
			url.Values{"login_challenge": {loc.Query().Get("login_challenge")}}.Encode()),
			map[string]any{"error": "access_denied", "error_description": "hera doctor"}, "application/json", nil)
	} else {
		out = append(out, Result{Check: "hydra.urls.registration", Status: Skip,
			Message: "Hydra's registration URL is not checked: prompt=registration gave no login challenge"})
	}

	// Error: an unknown client.
	e, err := d.do(ctx, http.MethodGet, authorize(nil, clientID+"-unknown"), nil, "", nil)
	if loc, ok := locationOf(e, err); ok && loc.Query().Get("error") != "" {
		out = append(out, d.checkHydraURL(hydraError, loc))
	} else {
		out = append(out, Result{Check: "hydra.urls.error", Status: Skip,
			Message: "Hydra's error URL is not checked: an unknown client did not lead to it"})
	}
	return out
}

// followHydra follows a redirect_to from Hydra's admin API on the doctor's
// way to Hydra's public API (the URL Hydra builds names its public host as
// browsers see it), and returns where Hydra sends the browser next.
func (d *doctor) followHydra(ctx context.Context, acc *answer, box *cookieBox) (*url.URL, error) {
	var r struct {
		RedirectTo string `json:"redirect_to"`
	}
	if err := json.Unmarshal(acc.body, &r); err != nil || r.RedirectTo == "" {
		return nil, fmt.Errorf("hydra gave no redirect_to")
	}
	to, err := url.Parse(r.RedirectTo)
	if err != nil {
		return nil, err
	}
	// Whatever host and prefix Hydra names itself by, the verifier goes to
	// its /oauth2/auth.
	p := to.EscapedPath()
	if i := strings.LastIndex(p, "/oauth2/auth"); i >= 0 {
		p = p[i:]
	}
	a, err := d.do(ctx, http.MethodGet, d.hydraPublic(p+"?"+to.RawQuery), nil, "", *box)
	if err != nil {
		return nil, err
	}
	box.add(a.Cookies())
	loc, ok := location(a)
	if !ok {
		return nil, fmt.Errorf("hydra answered the login verifier with %d", a.StatusCode)
	}
	return loc, nil
}

func locationOf(a *answer, err error) (*url.URL, bool) {
	if err != nil {
		return nil, false
	}
	return location(a)
}

func errOrStatus(err error, a *answer) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d %s", a.StatusCode, hydraErrorText(a))
}

// hydraRedirectError is the OAuth2 error in a redirect to the client, if
// it is one.
func hydraRedirectError(loc *url.URL) string {
	if loc == nil {
		return ""
	}
	if e := loc.Query().Get("error"); e != "" {
		return fmt.Sprintf(" (%s: %s, at %s)", e, loc.Query().Get("error_description"), withoutQuery(loc.String()))
	}
	return " to " + withoutQuery(loc.String())
}

// hydraErrorText is Hydra's JSON error.
func hydraErrorText(a *answer) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(a.body, &e) == nil && e.Error != "" {
		return e.Error + ": " + e.Description
	}
	return http.StatusText(a.StatusCode)
}
