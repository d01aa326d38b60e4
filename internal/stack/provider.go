package stack

// The upstream OpenID Connect provider of the dev stack and the tests: a
// second Hydra, whose login and consent app (ProviderApp) signs in test
// users picked from a form, so that Kratos's social sign-in (the oidc
// method) runs end to end without any external network.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The upstream provider as Kratos knows it. The label differs from the id:
// Hera's buttons name the provider by its label ("Sign in with Hydra ID").
const (
	UpstreamProviderID    = "hydra"
	UpstreamProviderLabel = "Hydra ID"
	// UpstreamClientID is Kratos's OAuth2 client at the upstream Hydra.
	UpstreamClientID = "kratos"
)

// SocialConfig is Kratos's oidc method with one generic OpenID Connect
// provider; StartKratos renders it into the configuration with the
// Jsonnet claims mapper (socialMapper).
type SocialConfig struct {
	ID           string // provider id: the callback path's last segment
	Label        string // the name users see
	IssuerURL    string // OpenID Connect discovery starts here
	ClientID     string
	ClientSecret string
}

// socialMapper maps the provider's ID-token claims onto the dev identity
// schema (deploy/dev/identity.schema.json): the e-mail only when the
// provider says it verified it, and then as a verified address too (no
// verification mail); the name's parts when given.
const socialMapper = `local claims = std.extVar('claims');
local verified = std.objectHas(claims, 'email') && std.objectHas(claims, 'email_verified') && claims.email_verified;
{
  identity: {
    traits: {
      [if verified then 'email']: claims.email,
      name: {
        [if std.objectHas(claims, 'given_name') then 'first']: claims.given_name,
        [if std.objectHas(claims, 'family_name') then 'last']: claims.family_name,
      },
    },
    verified_addresses: if verified then [{ via: 'email', value: claims.email }] else [],
  },
}
`

// socialTemplateData writes the claims mapper next to Kratos's
// configuration and returns the template's .Social, every string quoted
// for YAML.
func socialTemplateData(dir string, s *SocialConfig) (map[string]any, error) {
	if s.ID == "" || s.IssuerURL == "" || s.ClientID == "" || s.ClientSecret == "" {
		return nil, errors.New("stack: social provider needs an id, an issuer URL and client credentials")
	}
	mapper := filepath.Join(dir, "oidc."+s.ID+".jsonnet")
	if err := os.WriteFile(mapper, []byte(socialMapper), 0o600); err != nil {
		return nil, err
	}
	label := s.Label
	if label == "" {
		label = s.ID
	}
	q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
	return map[string]any{
		"ID":           q(s.ID),
		"Label":        q(label),
		"IssuerURL":    q(s.IssuerURL),
		"ClientID":     q(s.ClientID),
		"ClientSecret": q(s.ClientSecret),
		"MapperPath":   mapper,
	}, nil
}

// UpstreamConfig describes the upstream provider: a Hydra whose login and
// consent URLs point at a ProviderApp the caller serves at AppURL.
type UpstreamConfig struct {
	Bin        string // the hydra binary
	Dir        string
	HeraURL    string // Hera's browser-facing URL: Kratos's callback is under it
	AppURL     string // where the caller serves the ProviderApp, no trailing slash
	PublicPort int
	AdminPort  int
	Secret     string // Hydra's system secret, at least 32 characters
	// ClientSecret is Kratos's client secret at the provider.
	ClientSecret string
	LogLevel     string
	Output       io.Writer
}

// AdminURL is the upstream Hydra's admin API (for NewProviderApp, before
// the Hydra runs).
func (c UpstreamConfig) AdminURL() string { return "http://127.0.0.1:" + strconv.Itoa(c.AdminPort) }

// Social is the provider as Kratos's configuration names it (its issuer
// is known from the port, so Kratos may start at the same time).
func (c UpstreamConfig) Social() *SocialConfig {
	return &SocialConfig{
		ID:           UpstreamProviderID,
		Label:        UpstreamProviderLabel,
		IssuerURL:    "http://localhost:" + strconv.Itoa(c.PublicPort) + "/",
		ClientID:     UpstreamClientID,
		ClientSecret: c.ClientSecret,
	}
}

// CallbackURL is Kratos's redirect URI for the provider: Kratos's public
// base URL is Hera's /api/kratos/.
func (c UpstreamConfig) CallbackURL() string {
	return strings.TrimSuffix(c.HeraURL, "/") + "/api/kratos/self-service/methods/oidc/callback/" + UpstreamProviderID
}

// StartUpstream starts the upstream Hydra and registers Kratos's client
// in it. The caller serves NewProviderApp(c.AdminURL(), …) at c.AppURL.
func StartUpstream(ctx context.Context, c UpstreamConfig) (*Hydra, error) {
	if c.AppURL == "" || c.ClientSecret == "" {
		return nil, errors.New("stack: upstream provider needs its app URL and Kratos's client secret")
	}
	h, err := StartHydra(ctx, HydraConfig{
		Bin: c.Bin, Dir: c.Dir, HeraURL: c.HeraURL, PublicPort: c.PublicPort, AdminPort: c.AdminPort,
		LogLevel: c.LogLevel, Secret: c.Secret, Output: c.Output,
		UIURL: strings.TrimSuffix(c.AppURL, "/"), CookiePrefix: "upstream_hydra",
	})
	if err != nil {
		return nil, err
	}
	if err := putClient(ctx, h.AdminURL, map[string]any{
		"client_id":                  UpstreamClientID,
		"client_secret":              c.ClientSecret,
		"client_name":                "Hera",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid email profile offline_access",
		"redirect_uris":              []string{c.CallbackURL()},
		"token_endpoint_auth_method": "client_secret_basic",
		"skip_consent":               true,
	}); err != nil {
		_ = h.Stop()
		return nil, fmt.Errorf("stack: upstream client: %w", err)
	}
	return h, nil
}

// putClient creates or replaces an OAuth2 client through Hydra's admin API.
func putClient(ctx context.Context, admin string, client map[string]any) error {
	body, err := json.Marshal(client)
	if err != nil {
		return err
	}
	id, _ := client["client_id"].(string)
	for _, m := range []struct{ method, url string }{
		{http.MethodPut, admin + "/admin/clients/" + url.PathEscape(id)},
		{http.MethodPost, admin + "/admin/clients"},
	} {
		status, b, err := adminCall(ctx, http.DefaultClient, m.method, m.url, body)
		switch {
		case err != nil:
			return err
		case status < 300:
			return nil
		case status == http.StatusNotFound && m.method == http.MethodPut:
			continue
		default:
			return fmt.Errorf("%s %s: %d %s", m.method, m.url, status, tail(b, 500))
		}
	}
	return errors.New("unreachable")
}

// ProviderUser is one test user of the upstream provider.
type ProviderUser struct {
	Subject    string // Hydra's subject: stable, never shown to Hera
	Email      string
	GivenName  string
	FamilyName string
	// Unverified: the provider does not vouch for the address
	// (email_verified false), so the mapper leaves it out.
	Unverified bool
}

// String is how the provider's form lists the user.
func (u ProviderUser) String() string {
	return strings.TrimSpace(u.GivenName+" "+u.FamilyName) + " <" + u.Email + ">"
}

// DefaultProviderUsers are the test users the provider's form lists.
func DefaultProviderUsers() []ProviderUser {
	return []ProviderUser{
		{Subject: "ada", Email: "ada@provider.test", GivenName: "Ada", FamilyName: "Lovelace"},
		{Subject: "grace", Email: "grace@provider.test", GivenName: "Grace", FamilyName: "Hopper"},
		{Subject: "alan", Email: "alan@provider.test", GivenName: "Alan", FamilyName: "Turing"},
	}
}

// ProviderApp is the upstream Hydra's login and consent app: GET /login
// shows a form of test users and a field for any other address, POST
// /login accepts (or, on Cancel, rejects) Hydra's login request, GET
// /consent grants the requested scopes with the user's claims in the ID
// token (email, email_verified, name, given_name, family_name) without
// asking, GET /logout accepts, GET /error shows Hydra's error. There are
// no passwords: it is a test double, for loopback only.
type ProviderApp struct {
	admin string
	users []ProviderUser
	http  *http.Client
	mux   *http.ServeMux
}

// NewProviderApp returns the app for the Hydra whose admin API is at
// admin; nil users means DefaultProviderUsers.
func NewProviderApp(admin string, users []ProviderUser) *ProviderApp {
	if users == nil {
		users = DefaultProviderUsers()
	}
	a := &ProviderApp{
		admin: strings.TrimSuffix(admin, "/"),
		users: users,
		http: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		mux: http.NewServeMux(),
	}
	a.mux.HandleFunc("GET /{$}", a.index)
	a.mux.HandleFunc("GET /login", a.loginForm)
	a.mux.HandleFunc("POST /login", a.login)
	a.mux.HandleFunc("GET /consent", a.consent)
	a.mux.HandleFunc("GET /logout", a.logout)
	a.mux.HandleFunc("GET /error", a.showError)
	return a
}

// Users are the test users the form lists.
func (a *ProviderApp) Users() []ProviderUser { return slices.Clone(a.users) }

func (a *ProviderApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	a.mux.ServeHTTP(w, r)
}

// loginContext is what the login hands on to the consent (Hydra's login
// context): the claims of the user who signed in.
type loginContext struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
}

func (u ProviderUser) context() loginContext {
	return loginContext{Email: u.Email, EmailVerified: !u.Unverified, GivenName: u.GivenName, FamilyName: u.FamilyName}
}

// customSubject is the subject of an address typed into the form: the same
// address signs in as the same user every time.
func customSubject(email string) string { return "mail:" + strings.ToLower(email) }

func (a *ProviderApp) userBySubject(sub string) (ProviderUser, bool) {
	for _, u := range a.users {
		if u.Subject == sub {
			return u, true
		}
	}
	if email, ok := strings.CutPrefix(sub, "mail:"); ok {
		return ProviderUser{Subject: sub, Email: email}, true
	}
	return ProviderUser{}, false
}

type loginRequest struct {
	Challenge string `json:"challenge"`
	Skip      bool   `json:"skip"`
	Subject   string `json:"subject"`
	Client    struct {
		ClientID   string `json:"client_id"`
		ClientName string `json:"client_name"`
	} `json:"client"`
}

func (a *ProviderApp) loginForm(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	if challenge == "" {
		a.page(w, http.StatusBadRequest, "Missing login challenge", pageData{Message: "Start at the application that asked you to sign in."})
		return
	}
	var lr loginRequest
	if err := a.get(r.Context(), "login", challenge, &lr); err != nil {
		a.fail(w, err)
		return
	}
	if lr.Skip {
		// Hydra remembers this browser's user: no form.
		u, ok := a.userBySubject(lr.Subject)
		if !ok {
			u = ProviderUser{Subject: lr.Subject}
		}
		a.acceptLogin(w, r, challenge, u)
		return
	}
	client := lr.Client.ClientName
	if client == "" {
		client = lr.Client.ClientID
	}
	a.page(w, http.StatusOK, "Sign in to "+UpstreamProviderLabel, pageData{Challenge: challenge, Client: client, Users: a.users, Form: true})
}

func (a *ProviderApp) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	challenge := r.PostForm.Get("login_challenge")
	if challenge == "" {
		http.Error(w, "missing login_challenge", http.StatusBadRequest)
		return
	}
	if r.PostForm.Has("cancel") {
		to, err := a.put(r.Context(), "login", "reject", challenge, map[string]any{
			"error": "access_denied", "error_description": "The user cancelled the sign-in at the provider.",
		})
		if err != nil {
			a.fail(w, err)
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	if sub := r.PostForm.Get("user"); sub != "" {
		u, ok := a.userBySubject(sub)
		if !ok || strings.HasPrefix(sub, "mail:") {
			http.Error(w, "unknown user", http.StatusBadRequest)
			return
		}
		a.acceptLogin(w, r, challenge, u)
		return
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(r.PostForm.Get("email")))
	if err != nil || addr.Name != "" || len(addr.Address) > 254 {
		a.page(w, http.StatusBadRequest, "Sign in to "+UpstreamProviderLabel, pageData{Challenge: challenge, Users: a.users, Form: true,
			Error: "Enter an e-mail address such as someone@example.com."})
		return
	}
	a.acceptLogin(w, r, challenge, ProviderUser{
		Subject:    customSubject(addr.Address),
		Email:      addr.Address,
		GivenName:  strings.TrimSpace(r.PostForm.Get("given_name")),
		FamilyName: strings.TrimSpace(r.PostForm.Get("family_name")),
		Unverified: r.PostForm.Get("email_verified") != "true",
	})
}

func (a *ProviderApp) acceptLogin(w http.ResponseWriter, r *http.Request, challenge string, u ProviderUser) {
	to, err := a.put(r.Context(), "login", "accept", challenge, map[string]any{
		"subject": u.Subject, "remember": false, "context": u.context(),
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

type consentRequest struct {
	Subject                      string          `json:"subject"`
	RequestedScope               []string        `json:"requested_scope"`
	RequestedAccessTokenAudience []string        `json:"requested_access_token_audience"`
	Context                      json.RawMessage `json:"context"`
}

// consent grants what was asked, with the signed-in user's claims in the
// ID token as the granted scopes allow (email; profile).
func (a *ProviderApp) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	if challenge == "" {
		http.Error(w, "missing consent_challenge", http.StatusBadRequest)
		return
	}
	var cr consentRequest
	if err := a.get(r.Context(), "consent", challenge, &cr); err != nil {
		a.fail(w, err)
		return
	}
	var lc loginContext
	if len(cr.Context) > 0 && string(cr.Context) != "null" {
		if err := json.Unmarshal(cr.Context, &lc); err != nil {
			a.fail(w, fmt.Errorf("login context: %w", err))
			return
		}
	} else if u, ok := a.userBySubject(cr.Subject); ok {
		lc = u.context()
	}
	claims := map[string]any{}
	if slices.Contains(cr.RequestedScope, "email") && lc.Email != "" {
		claims["email"] = lc.Email
		claims["email_verified"] = lc.EmailVerified
	}
	if slices.Contains(cr.RequestedScope, "profile") {
		if name := strings.TrimSpace(lc.GivenName + " " + lc.FamilyName); name != "" {
			claims["name"] = name
		}
		if lc.GivenName != "" {
			claims["given_name"] = lc.GivenName
		}
		if lc.FamilyName != "" {
			claims["family_name"] = lc.FamilyName
		}
	}
	to, err := a.put(r.Context(), "consent", "accept", challenge, map[string]any{
		"grant_scope":                 cr.RequestedScope,
		"grant_access_token_audience": cr.RequestedAccessTokenAudience,
		"remember":                    false,
		"session":                     map[string]any{"id_token": claims},
	})
	if err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (a *ProviderApp) logout(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("logout_challenge")
	if challenge == "" {
		http.Error(w, "missing logout_challenge", http.StatusBadRequest)
		return
	}
	to, err := a.put(r.Context(), "logout", "accept", challenge, nil)
	if err != nil {
		a.fail(w, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (a *ProviderApp) showError(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.page(w, http.StatusOK, "Sign-in error", pageData{Message: strings.TrimSpace(q.Get("error") + ": " + q.Get("error_description"))})
}

func (a *ProviderApp) index(w http.ResponseWriter, r *http.Request) {
	a.page(w, http.StatusOK, UpstreamProviderLabel+" (test provider)", pageData{Users: a.users,
		Message: "Applications send you here to sign in. These are its test users:"})
}

// get reads Hydra's login or consent request.
func (a *ProviderApp) get(ctx context.Context, kind, challenge string, out any) error {
	u := a.admin + "/admin/oauth2/auth/requests/" + kind + "?" + kind + "_challenge=" + url.QueryEscape(challenge)
	status, b, err := adminCall(ctx, a.http, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("hydra: get %s request: %d %s", kind, status, tail(b, 500))
	}
	return json.Unmarshal(b, out)
}

// put accepts or rejects a request and returns where Hydra sends the browser.
func (a *ProviderApp) put(ctx context.Context, kind, action, challenge string, in any) (string, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return "", err
		}
	}
	u := a.admin + "/admin/oauth2/auth/requests/" + kind + "/" + action + "?" + kind + "_challenge=" + url.QueryEscape(challenge)
	status, b, err := adminCall(ctx, a.http, http.MethodPut, u, body)
	if err != nil {
		return "", err
	}
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &out) != nil || out.RedirectTo == "" {
		return "", fmt.Errorf("hydra: %s %s: %d %s", action, kind, status, tail(b, 500))
	}
	return out.RedirectTo, nil
}

func adminCall(ctx context.Context, c *http.Client, method, u string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}

func (a *ProviderApp) fail(w http.ResponseWriter, err error) {
	a.page(w, http.StatusBadGateway, "The provider failed", pageData{Message: err.Error()})
}

type pageData struct {
	Title     string
	Challenge string
	Client    string
	Users     []ProviderUser
	Form      bool
	Message   string
	Error     string
}

func (a *ProviderApp) page(w http.ResponseWriter, status int, title string, d pageData) {
	d.Title = title
	var buf bytes.Buffer
	if err := providerPage.Execute(&buf, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// providerPage is the app's only page. It looks unlike Hera on purpose:
// users must see that they are at another site.
var providerPage = template.Must(template.New("provider").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · ` + UpstreamProviderLabel + `</title>
<style>
body { font: 16px/1.5 Georgia, serif; margin: 0; background: #f3efe6; color: #222; }
header { background: #3b2f63; color: #fff; padding: 12px 20px; font-weight: bold; }
main { max-width: 480px; margin: 24px auto; padding: 0 16px; }
fieldset { border: 1px solid #8a7fb0; border-radius: 6px; margin: 16px 0; padding: 8px 16px 16px; }
legend { font-weight: bold; padding: 0 4px; }
label { display: block; margin: 10px 0 4px; }
label.check { display: inline; margin: 0 0 0 6px; }
input[type=email], input[type=text] { width: 100%; box-sizing: border-box; font: inherit; padding: 8px; border: 1px solid #555; border-radius: 4px; }
button { display: block; width: 100%; font: inherit; margin: 8px 0; padding: 10px; border-radius: 4px; border: 1px solid #3b2f63; background: #3b2f63; color: #fff; cursor: pointer; text-align: left; }
button.plain { background: #fff; color: #3b2f63; text-align: center; }
:focus-visible { outline: 3px solid #b45309; outline-offset: 2px; }
.error { color: #8a1c1c; font-weight: bold; }
</style>
</head>
<body>
<header>` + UpstreamProviderLabel + ` <span>· test provider</span></header>
<main>
<h1>{{.Title}}</h1>
{{- if .Client}}
<p><strong>{{.Client}}</strong> asks you to sign in. This provider has no passwords: pick a test user, or give any e-mail address.</p>
{{- end}}
{{- if .Message}}
<p>{{.Message}}</p>
{{- end}}
{{- if .Error}}
<p class="error" role="alert">{{.Error}}</p>
{{- end}}
{{- if .Form}}
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<fieldset>
<legend>Test users</legend>
{{- range .Users}}
<button type="submit" name="user" value="{{.Subject}}">{{.String}}</button>
{{- end}}
</fieldset>
</form>
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<fieldset>
<legend>Another e-mail address</legend>
<label for="email">E-mail</label>
<input id="email" name="email" type="email" required autocomplete="off">
<label for="given_name">First name</label>
<input id="given_name" name="given_name" type="text" autocomplete="off">
<label for="family_name">Last name</label>
<input id="family_name" name="family_name" type="text" autocomplete="off">
<p><input id="email_verified" name="email_verified" type="checkbox" value="true" checked><label class="check" for="email_verified">The provider has verified this address</label></p>
<button type="submit" id="custom-sign-in">Sign in with this address</button>
</fieldset>
</form>
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{{.Challenge}}">
<button type="submit" name="cancel" value="1" class="plain">Cancel and go back</button>
</form>
{{- else if .Users}}
<ul>
{{- range .Users}}
<li>{{.String}}</li>
{{- end}}
</ul>
{{- end}}
</main>
</body>
</html>
`))
