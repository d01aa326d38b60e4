// Package hydra talks to Ory Hydra's admin API: login, consent and logout
// challenges.
package hydra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds how much of any Hydra answer Hera reads.
const maxBody = 1 << 20

// Client calls Hydra's admin API.
type Client struct {
	admin *url.URL
	http  *http.Client
}

// WrapTransport lets the caller observe calls (metrics). Call it before use.
func (c *Client) WrapTransport(wrap func(http.RoundTripper) http.RoundTripper) {
	t := c.http.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	c.http.Transport = wrap(t)
}

// NewClient returns a client for Hydra's admin API at admin; every call is
// bounded by timeout (and by its context). Redirects are never followed.
func NewClient(admin *url.URL, timeout time.Duration) (*Client, error) {
	if admin == nil {
		return nil, fmt.Errorf("hydra: admin URL is required")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("hydra: timeout must be positive")
	}
	return &Client{
		admin: admin,
		http: &http.Client{
			Timeout: timeout,
			Transport: &http.Transport{
				Proxy:               nil, // the admin API is internal
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// Ready reports whether Hydra's admin API answers its readiness probe.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.call(ctx, http.MethodGet, "/health/ready", nil, nil, nil)
	return err
}

// call sends one request to the admin API and decodes a 2xx answer into out
// (when out is not nil). Error answers become *Error; transport failures,
// 5xx, malformed, oversized and unexpected answers match ErrUnavailable.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	op := method + " " + path
	u := c.admin.JoinPath(path)
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("hydra: %s: encoding request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		// The *url.Error quotes the request URL, whose query carries the
		// challenge: keep only the path in what may be logged.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL, _, _ = strings.Cut(ue.URL, "?")
		}
		return 0, fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return res.StatusCode, fmt.Errorf("%w: %s: reading answer: %w", ErrUnavailable, op, err)
	}
	if len(b) > maxBody {
		return res.StatusCode, fmt.Errorf("%w: %s: answer larger than %d bytes", ErrUnavailable, op, maxBody)
	}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		if out == nil {
			return res.StatusCode, nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, fmt.Errorf("%w: %s: malformed answer: %v", ErrUnavailable, op, err)
		}
		return res.StatusCode, nil
	case res.StatusCode >= 400:
		return res.StatusCode, parseError(op, res.StatusCode, b)
	default: // 1xx, 3xx: not something the admin API says
		return res.StatusCode, fmt.Errorf("%w: %s: unexpected status %d", ErrUnavailable, op, res.StatusCode)
	}
}

// errorBody is Hydra's errorOAuth2, plus oAuth2RedirectTo for 410 answers.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Hint        string `json:"error_hint"`
	Debug       string `json:"error_debug"`
	RedirectTo  string `json:"redirect_to"`
}

func parseError(op string, status int, body []byte) *Error {
	e := &Error{Op: op, Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Name, e.Description, e.Hint, e.Debug, e.RedirectTo = eb.Error, eb.Description, eb.Hint, eb.Debug, eb.RedirectTo
	}
	if e.Name == "" {
		e.Name = http.StatusText(status)
	}
	return e
}

// getRequest fetches a login, consent or logout request by challenge.
func (c *Client) getRequest(ctx context.Context, kind, challenge string, out any) error {
	if challenge == "" {
		return ErrMissingChallenge
	}
	_, err := c.call(ctx, http.MethodGet, "/admin/oauth2/auth/requests/"+kind,
		url.Values{kind + "_challenge": {challenge}}, nil, out)
	return err
}

// putRequest accepts or rejects a login, consent or logout request, returning where
// to send the browser.
func (c *Client) putRequest(ctx context.Context, kind, action, challenge string, in any) (string, error) {
	if challenge == "" {
		return "", ErrMissingChallenge
	}
	path := "/admin/oauth2/auth/requests/" + kind + "/" + action
	var r redirectTo
	if _, err := c.call(ctx, http.MethodPut, path, url.Values{kind + "_challenge": {challenge}}, in, &r); err != nil {
		return "", err
	}
	if r.RedirectTo == "" {
		return "", fmt.Errorf("%w: PUT %s: answer has no redirect_to", ErrUnavailable, path)
	}
	return r.RedirectTo, nil
}

// GetLoginRequest fetches the login request behind a login_challenge.
func (c *Client) GetLoginRequest(ctx context.Context, challenge string) (*LoginRequest, error) {
	var r LoginRequest
	if err := c.getRequest(ctx, "login", challenge, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// AcceptLogin tells Hydra the user authenticated as a.Subject and returns
// where to send the browser (Hydra's authorization endpoint with a
// login_verifier). If the request had Skip true with another subject, Hydra
// does not fail: it returns the original request URL with prompt=login.
func (c *Client) AcceptLogin(ctx context.Context, challenge string, a AcceptLogin) (redirectTo string, err error) {
	if a.Subject == "" {
		return "", fmt.Errorf("hydra: AcceptLogin: subject is required")
	}
	return c.putRequest(ctx, "login", "accept", challenge, a)
}

// RejectLogin tells Hydra the login failed or was cancelled and returns
// where to send the browser (on to the client's redirect URI with the
// error).
func (c *Client) RejectLogin(ctx context.Context, challenge string, r Reject) (redirectTo string, err error) {
	return c.putRequest(ctx, "login", "reject", challenge, r)
}

// GetConsentRequest fetches the consent request behind a consent_challenge.
func (c *Client) GetConsentRequest(ctx context.Context, challenge string) (*ConsentRequest, error) {
	var r ConsentRequest
	if err := c.getRequest(ctx, "consent", challenge, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// AcceptConsent grants the client a.GrantScope and returns where to send the
// browser.
func (c *Client) AcceptConsent(ctx context.Context, challenge string, a AcceptConsent) (redirectTo string, err error) {
	return c.putRequest(ctx, "consent", "accept", challenge, a)
}

// RejectConsent denies the client and returns where to send the browser.
func (c *Client) RejectConsent(ctx context.Context, challenge string, r Reject) (redirectTo string, err error) {
	return c.putRequest(ctx, "consent", "reject", challenge, r)
}

// GetLogoutRequest fetches the logout request behind a logout_challenge.
func (c *Client) GetLogoutRequest(ctx context.Context, challenge string) (*LogoutRequest, error) {
	var r LogoutRequest
	if err := c.getRequest(ctx, "logout", challenge, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// AcceptLogout confirms the logout and returns where to send the browser:
// Hydra's public /oauth2/sessions/logout?logout_verifier=…, which ends the
// Hydra session (and runs front/back-channel logout) and then redirects to
// the client's post_logout_redirect_uri or Hydra's urls.post_logout_redirect.
func (c *Client) AcceptLogout(ctx context.Context, challenge string) (redirectTo string, err error) {
	return c.putRequest(ctx, "logout", "accept", challenge, nil)
}

// RejectLogout cancels the logout; Hydra gives no redirect, the UI decides
// where the browser goes.
func (c *Client) RejectLogout(ctx context.Context, challenge string) error {
	if challenge == "" {
		return ErrMissingChallenge
	}
	_, err := c.call(ctx, http.MethodPut, "/admin/oauth2/auth/requests/logout/reject",
		url.Values{"logout_challenge": {challenge}}, nil, nil)
	return err
}

// RevokeLoginSessions deletes every remembered Hydra login session of
// subject, so the next authorization request asks the UI to log in (Skip
// false). It does not log out of clients: no front- or back-channel logout,
// and issued tokens stay valid.
func (c *Client) RevokeLoginSessions(ctx context.Context, subject string) error {
	if subject == "" {
		return fmt.Errorf("hydra: RevokeLoginSessions: subject is required")
	}
	_, err := c.call(ctx, http.MethodDelete, "/admin/oauth2/auth/sessions/login", url.Values{"subject": {subject}}, nil, nil)
	return err
}

// RevokeLoginSession ends one Hydra login session by its id (the ID token's
// sid): Hydra runs back-channel logout for the clients of that session,
// deletes it, and disables the linked Kratos session if Hydra knows Kratos's
// admin URL. An unknown sid is not an error.
func (c *Client) RevokeLoginSession(ctx context.Context, sid string) error {
	if sid == "" {
		return fmt.Errorf("hydra: RevokeLoginSession: sid is required")
	}
	_, err := c.call(ctx, http.MethodDelete, "/admin/oauth2/auth/sessions/login", url.Values{"sid": {sid}}, nil, nil)
	return err
}

// RevokeConsentSessions forgets subject's remembered consents — for one
// client, or for all clients when clientID is "" — and revokes the tokens
// issued under them.
func (c *Client) RevokeConsentSessions(ctx context.Context, subject, clientID string) error {
	if subject == "" {
		return fmt.Errorf("hydra: RevokeConsentSessions: subject is required")
	}
	q := url.Values{"subject": {subject}}
	if clientID != "" {
		q.Set("client", clientID)
	} else {
		q.Set("all", "true")
	}
	_, err := c.call(ctx, http.MethodDelete, "/admin/oauth2/auth/sessions/consent", q, nil, nil)
	return err
}

// maxConsentSessions is how many consent sessions ListConsentSessions reads
// (Hydra's largest page).
const maxConsentSessions = 1000

// ListConsentSessions returns the consents subject granted and Hydra still
// holds (remembered or not, not yet expired), newest first: the clients
// that may hold tokens for the subject. It reads one page of at most 1000;
// more is reported by truncated.
func (c *Client) ListConsentSessions(ctx context.Context, subject string) (sessions []GrantedConsent, truncated bool, err error) {
	if subject == "" {
		return nil, false, fmt.Errorf("hydra: ListConsentSessions: subject is required")
	}
	q := url.Values{"subject": {subject}, "page_size": {strconv.Itoa(maxConsentSessions)}}
	if _, err := c.call(ctx, http.MethodGet, "/admin/oauth2/auth/sessions/consent", q, nil, &sessions); err != nil {
		return nil, false, err
	}
	return sessions, len(sessions) >= maxConsentSessions, nil
}

// GetClient fetches an OAuth 2.0 client by id (without its secret).
func (c *Client) GetClient(ctx context.Context, id string) (*OAuth2Client, error) {
	if id == "" {
		return nil, fmt.Errorf("hydra: GetClient: id is required")
	}
	var cl OAuth2Client
	if _, err := c.call(ctx, http.MethodGet, "/admin/clients/"+url.PathEscape(id), nil, nil, &cl); err != nil {
		return nil, err
	}
	return &cl, nil
}
