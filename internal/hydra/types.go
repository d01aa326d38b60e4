package hydra

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OAuth2Client is the part of Hydra's OAuth 2.0 client that a login, consent
// or logout UI needs. Hydra never includes the secret in these answers.
type OAuth2Client struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	PolicyURI               string   `json:"policy_uri"`
	TosURI                  string   `json:"tos_uri"`
	Contacts                []string `json:"contacts"`
	Owner                   string   `json:"owner"`
	Scope                   string   `json:"scope"` // space-separated
	Audience                []string `json:"audience"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	SubjectType             string   `json:"subject_type"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	FrontchannelLogoutURI   string   `json:"frontchannel_logout_uri"`
	BackchannelLogoutURI    string   `json:"backchannel_logout_uri"`
	// SkipConsent is set by the Hydra operator for first-party clients. Hydra
	// does not act on it: the consent UI must accept without asking.
	SkipConsent bool `json:"skip_consent"`
	// SkipLogoutConsent likewise for the logout confirmation; nil when unset.
	SkipLogoutConsent *bool `json:"skip_logout_consent"`
	// Metadata is free-form JSON set by the operator ({} when unset).
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// DisplayName is the client's name, or its id when it has none.
func (c *OAuth2Client) DisplayName() string {
	if c == nil {
		return ""
	}
	if c.ClientName != "" {
		return c.ClientName
	}
	return c.ClientID
}

// OIDCContext is what an OpenID Connect authorization request asked of the
// login and consent UI.
type OIDCContext struct {
	ACRValues         []string       `json:"acr_values"`
	Display           string         `json:"display"`
	IDTokenHintClaims map[string]any `json:"id_token_hint_claims"`
	LoginHint         string         `json:"login_hint"`
	UILocales         []string       `json:"ui_locales"` // in order of preference
}

// LoginRequest is Hydra's oAuth2LoginRequest.
type LoginRequest struct {
	Challenge string `json:"challenge"`
	// Skip is true when Hydra already has a remembered login session for this
	// browser: the UI must not show a form, and must accept with Subject.
	Skip bool `json:"skip"`
	// Subject is the remembered subject when Skip is true, else empty.
	Subject                      string        `json:"subject"`
	Client                       *OAuth2Client `json:"client"`
	RequestURL                   string        `json:"request_url"`
	RequestedScope               []string      `json:"requested_scope"`
	RequestedAccessTokenAudience []string      `json:"requested_access_token_audience"`
	OIDCContext                  *OIDCContext  `json:"oidc_context"`
	// SessionID is Hydra's login session id (the ID token's sid): the
	// remembered one when Skip, else a fresh one.
	SessionID string `json:"session_id"`
}

// ConsentRequest is Hydra's oAuth2ConsentRequest.
type ConsentRequest struct {
	Challenge string `json:"challenge"`
	// Skip is true when the subject already granted (and Hydra remembered) a
	// superset of the requested scope to this client. The UI must not ask, but
	// must still accept (or reject).
	Skip                         bool          `json:"skip"`
	Subject                      string        `json:"subject"`
	Client                       *OAuth2Client `json:"client"`
	RequestURL                   string        `json:"request_url"`
	RequestedScope               []string      `json:"requested_scope"`
	RequestedAccessTokenAudience []string      `json:"requested_access_token_audience"`
	OIDCContext                  *OIDCContext  `json:"oidc_context"`
	LoginChallenge               string        `json:"login_challenge"`
	LoginSessionID               string        `json:"login_session_id"`
	ACR                          string        `json:"acr"`
	AMR                          []string      `json:"amr"`
	// Context is AcceptLogin's Context, as JSON (absent or {} when unset).
	Context json.RawMessage `json:"context,omitempty"`
}

// LogoutRequest is Hydra's oAuth2LogoutRequest.
type LogoutRequest struct {
	Challenge string `json:"challenge"`
	Subject   string `json:"subject"`
	// SessionID is Hydra's login session id (sid) being logged out.
	SessionID  string `json:"sid"`
	RequestURL string `json:"request_url"`
	// RPInitiated is true when a client sent the browser with an
	// id_token_hint; Client is then set.
	RPInitiated bool          `json:"rp_initiated"`
	Client      *OAuth2Client `json:"client"`
	ExpiresAt   *time.Time    `json:"expires_at"`
	RequestedAt *time.Time    `json:"requested_at"`
}

// GrantedConsent is Hydra's oAuth2ConsentSession: one consent a subject
// granted a client.
type GrantedConsent struct {
	GrantScope    []string `json:"grant_scope"`
	GrantAudience []string `json:"grant_access_token_audience"`
	Remember      bool     `json:"remember"`
	RememberFor   int64    `json:"remember_for"`
	// HandledAt is when the consent was given; nil if Hydra has no date.
	HandledAt      *time.Time      `json:"handled_at"`
	ConsentRequest *ConsentRequest `json:"consent_request"`
}

// Client is the consented client, or nil.
func (s *GrantedConsent) Client() *OAuth2Client {
	if s.ConsentRequest == nil {
		return nil
	}
	return s.ConsentRequest.Client
}

// AuthParams are the query parameters of the original authorization request
// (request_url). Hydra copies the browser's query verbatim and offers no
// fields for prompt, max_age, acr_values as asked, and so on; for an
// authorization request sent by POST, or one whose parameters sit only in a
// request object, they are absent.
func (r *LoginRequest) AuthParams() url.Values { return authParams(r.RequestURL) }

// Prompt is the authorization request's prompt values (none, login, consent,
// select_account, registration).
func (r *LoginRequest) Prompt() []string { return prompt(r.RequestURL) }

// HasPrompt reports whether prompt includes v.
func (r *LoginRequest) HasPrompt(v string) bool { return slices.Contains(r.Prompt(), v) }

// MaxAge is the authorization request's max_age: how long ago the user may
// last have authenticated. ok is false when it is absent or not a
// non-negative integer. max_age=0 means "authenticate now", like
// prompt=login.
func (r *LoginRequest) MaxAge() (d time.Duration, ok bool) { return maxAge(r.RequestURL) }

// AuthParams is as LoginRequest.AuthParams.
func (r *ConsentRequest) AuthParams() url.Values { return authParams(r.RequestURL) }

// Prompt is as LoginRequest.Prompt.
func (r *ConsentRequest) Prompt() []string { return prompt(r.RequestURL) }

// HasPrompt reports whether prompt includes v.
func (r *ConsentRequest) HasPrompt(v string) bool { return slices.Contains(r.Prompt(), v) }

// LoginHint is oidc_context.login_hint, or "".
func (r *LoginRequest) LoginHint() string {
	if r.OIDCContext == nil {
		return ""
	}
	return r.OIDCContext.LoginHint
}

// UILocales is oidc_context.ui_locales, or nil.
func (r *LoginRequest) UILocales() []string {
	if r.OIDCContext == nil {
		return nil
	}
	return r.OIDCContext.UILocales
}

func authParams(requestURL string) url.Values {
	u, err := url.Parse(requestURL)
	if err != nil {
		return url.Values{}
	}
	q, _ := url.ParseQuery(u.RawQuery) // keep what parses
	return q
}

func prompt(requestURL string) []string {
	return strings.Fields(authParams(requestURL).Get("prompt"))
}

func maxAge(requestURL string) (time.Duration, bool) {
	q := authParams(requestURL)
	if !q.Has("max_age") {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(q.Get("max_age")), 10, 64)
	if err != nil || n < 0 || n > int64(time.Duration(1<<63-1)/time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// AcceptLogin is the body of an accepted login request.
type AcceptLogin struct {
	// Subject is the authenticated user (Kratos identity id). Required. When
	// the request's Skip is true it must equal the request's Subject.
	Subject string
	// Remember asks Hydra to set its login session cookie, so later requests
	// from this browser come with Skip true. Hydra forces it on when Skip.
	Remember bool
	// RememberFor is the cookie's lifetime in seconds; 0 means a browser-session
	// cookie (the Hydra session itself does not expire).
	RememberFor int64
	// ACR and AMR end up in the ID token (acr, amr).
	ACR string
	AMR []string
	// IdentityProviderSessionID is the Kratos session id; Hydra uses it to
	// disable the Kratos session when the OAuth2 session is logged out (only if
	// Hydra is configured with Kratos's admin URL).
	IdentityProviderSessionID string
	// Context is arbitrary JSON handed on to the consent request's Context
	// (it travels inside the encrypted challenge: keep it small, no secrets
	// beyond what Hydra's system secret protects).
	Context any
	// ExtendSessionLifespan renews the remembered cookie's lifetime; only
	// meaningful when Skip is true.
	ExtendSessionLifespan bool
	// ForceSubjectIdentifier sets a pairwise subject; leave empty.
	ForceSubjectIdentifier string
}

func (a AcceptLogin) MarshalJSON() ([]byte, error) {
	amr := a.AMR
	if amr == nil {
		amr = []string{}
	}
	return json.Marshal(struct {
		Subject                   string   `json:"subject"`
		Remember                  bool     `json:"remember"`
		RememberFor               int64    `json:"remember_for"`
		ACR                       string   `json:"acr,omitempty"`
		AMR                       []string `json:"amr"`
		IdentityProviderSessionID string   `json:"identity_provider_session_id,omitempty"`
		Context                   any      `json:"context,omitempty"`
		ExtendSessionLifespan     bool     `json:"extend_session_lifespan,omitempty"`
		ForceSubjectIdentifier    string   `json:"force_subject_identifier,omitempty"`
	}{a.Subject, a.Remember, a.RememberFor, a.ACR, amr, a.IdentityProviderSessionID, a.Context, a.ExtendSessionLifespan, a.ForceSubjectIdentifier})
}

// Reject is the body of a rejected login or consent request. Hydra sends the
// browser back to the client with these as error, error_description (with
// the hint appended) and so on.
type Reject struct {
	Error            string `json:"error,omitempty"` // e.g. access_denied, login_required; Hydra's default is "request_denied"
	ErrorDescription string `json:"error_description,omitempty"`
	ErrorHint        string `json:"error_hint,omitempty"`
	ErrorDebug       string `json:"error_debug,omitempty"`
	StatusCode       int    `json:"status_code,omitempty"` // default 400
}

// ConsentSession is token data set on consent.
type ConsentSession struct {
	// IDToken claims are added to the ID token (and to userinfo).
	IDToken map[string]any
	// AccessToken claims are added to the access token's ext / introspection.
	AccessToken map[string]any
}

// AcceptConsent is the body of an accepted consent request.
type AcceptConsent struct {
	GrantScope               []string
	GrantAccessTokenAudience []string
	// Remember makes later requests of this client for a subset of
	// GrantScope arrive with Skip true.
	Remember bool
	// RememberFor is in seconds; 0 means forever.
	RememberFor int64
	Session     ConsentSession
	// Context is arbitrary JSON kept with the consent session.
	Context any
}

func (a AcceptConsent) MarshalJSON() ([]byte, error) {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	nonNilMap := func(m map[string]any) map[string]any {
		if m == nil {
			return map[string]any{}
		}
		return m
	}
	type session struct {
		IDToken     map[string]any `json:"id_token"`
		AccessToken map[string]any `json:"access_token"`
	}
	return json.Marshal(struct {
		GrantScope               []string `json:"grant_scope"`
		GrantAccessTokenAudience []string `json:"grant_access_token_audience"`
		Remember                 bool     `json:"remember"`
		RememberFor              int64    `json:"remember_for"`
		Session                  session  `json:"session"`
		Context                  any      `json:"context,omitempty"`
	}{
		nonNil(a.GrantScope), nonNil(a.GrantAccessTokenAudience), a.Remember, a.RememberFor,
		session{nonNilMap(a.Session.IDToken), nonNilMap(a.Session.AccessToken)}, a.Context,
	})
}

type redirectTo struct {
	RedirectTo string `json:"redirect_to"`
}
