package view

// The models the page components render, built by package web.

import (
	"strings"

	"github.com/a-h/templ"

	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/kratos"
)

// FlowPage is the view model of a self-service flow page.
type FlowPage struct {
	Kind     kratos.Kind
	Title    string
	Intro    string
	FlowID   string
	Messages []Alert
	Forms    []Form
	Links    []Link
	Client   *ClientView // the OAuth2 client a login is for
	Scripts  []Script    // Kratos's WebAuthn script, loaded same-origin
	NeedsJS  bool        // some method only works with JavaScript
	Captcha  *captcha.Widget

	ForgotPassword bool // the login form offers "Forgot password?"
	// Sections lays the forms out as sections side by side where there is
	// room (settings: one section per method).
	Sections bool
}

// Alert is a message shown to the user.
type Alert struct {
	ID   string // element id, for aria-describedby
	Type string // info, error, success
	Text string
}

// Link is a link to another page.
type Link struct {
	Text string
	Href string
}

// ClientView is what a page shows of an OAuth2 client.
type ClientView struct {
	Name    string
	LogoURI string
	URI     string
}

// Script is an external script a flow needs.
type Script struct {
	Src, Integrity, CrossOrigin, ReferrerPolicy string
}

// Form is one HTML form of a flow page.
type Form struct {
	ID      string
	Action  string
	Group   string
	Heading string
	Items   []Item
}

// Item is one element of a form. Kind selects the fields that apply:
// input, hidden, checkbox, select, submit, trigger (a JavaScript-driven
// button), img, a, text, secrets, div, account (identifier-first: whose
// sign-in this is, with a way back) and username (the account's name for
// password managers, never submitted).
type Item struct {
	Kind         string
	ID           string
	Name         string
	Type         string // input type
	Value        string
	Label        string
	Required     bool
	Disabled     bool
	Checked      bool
	Autocomplete string
	Pattern      string
	MaxLength    int
	Invalid      bool
	DescribedBy  string
	Messages     []Alert
	Options      []SelectOption
	Trigger      string // trigger: window function to call on click
	OnLoad       string // hidden/trigger: window function to call on load
	NoValidate   bool   // submit: skip browser validation (alternative method)
	Primary      bool   // submit: the main action of its form
	Src          string // img; the component allows only SafeImageSrc's URLs
	Width        int
	Height       int
	Href         string // a
	Text         string // text, a
	Secrets      []string
	Disclose     string // text: shown only on request, behind this summary
	Class        string
	Data         map[string]string
	Alt          string // img without a label
}

// SelectOption is one option of a select.
type SelectOption struct {
	Value    string
	Label    string
	Selected bool
}

// Page is what every page component receives: the frame's data.
type Page struct {
	Title     string
	Nonce     string
	RequestID string
	Scripts   []Script
	Captcha   *captcha.Widget
	Brand     Brand
	Lang      string
	Dir       string
	Langs     []LangOption
	Path      string // this page from Hera's root, for the language switcher
	// Base is the path Hera is served under ("" at the root, "/auth");
	// U puts it before Hera's own paths.
	Base string

	// ScriptPrefix is where the page's Scripts may come from (Hera's Kratos
	// proxy); others are not loaded.
	ScriptPrefix string
	// CaptchaCSP, when set, is what the page's CSP must allow for the
	// captcha widget.
	CaptchaCSP *captcha.CSP
	// T translates one of Hera's strings into the page's language; TH
	// translates one whose arguments may be markup (html/template.HTML,
	// inserted as is; others escaped) and returns markup.
	T  func(key string, kv ...any) string
	TH func(key string, kv ...any) string
	// RequestIDHTML is the footer's request-ID line, markup made by the
	// catalog with the ID escaped; "" when RequestIDInPage.
	RequestIDHTML string
	// RequestIDInPage says the page's content shows the request ID itself
	// (the error page), so the footer leaves it out.
	RequestIDInPage bool
}

// Brand is the operator's branding, on every page.
type Brand struct {
	Name       string
	LogoURL    string
	FaviconURL string
	PrivacyURL string
	TermsURL   string
	// CSSPath is /brand.css with its version ("/brand.css?v=3f9a1c2b"),
	// "" when there is none.
	CSSPath string
	// SocialLogos maps social sign-in provider ids to their buttons'
	// logos (HERA_SOCIAL_LOGOS); ProviderButton has built-in ones.
	SocialLogos map[string]string
}

// LangOption is one entry of the language switcher.
type LangOption struct {
	Code, Name string
	Current    bool
}

// ErrorView is the model of the error page.
type ErrorView struct {
	Title   string
	Message string
	Hint    string
	Links   []Link
}

// WelcomeView is the model of the start page.
type WelcomeView struct {
	Session             bool
	NeedsSecondFactor   bool
	Name                string
	Identifier          string
	AuthenticatedAt     string
	AuthenticatedAtText string
	AAL                 string
	Methods             string
	Apps                bool // OAuth2 is on: link the connected apps
}

// SessionsView is the model of the sessions page.
type SessionsView struct {
	Messages []Alert
	Current  *SessionView
	Others   []SessionView
}

// SessionView is one session.
type SessionView struct {
	ID     string
	Device string // its browser and system in words
	// UserAgent is the browser's own User-Agent string, shown on demand.
	UserAgent           string
	IP                  string
	AuthenticatedAt     string
	AuthenticatedAtText string
}

// ConsentView is the model of the consent page.
type ConsentView struct {
	Challenge string
	Client    ClientView
	PolicyURI string
	TosURI    string
	Scopes    []ScopeView
	Audience  []string
	// AudienceText is Audience as one comma-separated string.
	AudienceText string
	Remember     bool
}

// ScopeView is one requested scope.
type ScopeView struct {
	Name        string
	Description string
	Required    bool
}

// LogoutView is the model of the sign-out confirmation page.
type LogoutView struct {
	Action     string
	Challenge  string
	ClientName string
}

// AppsView is the model of the connected-apps page.
type AppsView struct {
	Messages  []Alert
	Apps      []AppView
	Truncated bool
}

// AppView is one OAuth2 client the user granted access to.
type AppView struct {
	ClientID    string
	Name        string
	LogoURI     string
	URI         string
	Scopes      []string // in plain words
	GrantedAt   string   // RFC 3339, "" if unknown
	GrantedText string
}

// DeleteAccountView is the model of the delete-my-account page.
type DeleteAccountView struct {
	Messages   []Alert
	Identifier string
	Word       string // what the user types to confirm
	Apps       bool   // OAuth2 is on: apps lose their access too
}

// U is path p on Hera (written from Hera's root, "/login") as browsers
// address it: under the path Hera is served at.
func (p *Page) U(path string) templ.SafeURL { return templ.SafeURL(p.Base + path) }

// Href is a link's target: Hera's own paths ("/login?…") go under the base
// path; other URLs (an app's, Kratos's) are kept. Both are sanitized.
func (p *Page) Href(h string) templ.SafeURL {
	if strings.HasPrefix(h, "/") && !strings.HasPrefix(h, "//") {
		h = p.Base + h
	}
	return templ.URL(h)
}
