// Package kratos talks to Ory Kratos: its public API on behalf of the browser
// and its admin API for Hera's own server-side needs.
package kratos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrUnavailable marks failures of Kratos itself (unreachable, timeout, 5xx,
// malformed answer), as opposed to answers about the request.
var ErrUnavailable = errors.New("kratos unavailable")

// maxBody bounds how much of any Kratos answer Hera reads.
const maxBody = 1 << 20

// Client calls Kratos's public and admin APIs.
type Client struct {
	public *url.URL
	admin  *url.URL
	http   *http.Client
	bodies sync.Pool // *[]byte: buffers for answers that are decoded, then dropped

	schemas schemaCache
}

// NewClient returns a client for Kratos at the given base URLs. Each call is
// bounded by timeout; redirects are never followed, since Kratos answers
// browser flows with redirects that are meant for the browser.
func NewClient(public, admin *url.URL, timeout time.Duration) (*Client, error) {
	if public == nil || admin == nil {
		return nil, fmt.Errorf("kratos: public and admin URLs are required")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("kratos: timeout must be positive")
	}
	return &Client{
		public: public,
		admin:  admin,
		http: &http.Client{
			Timeout: timeout,
			Transport: &http.Transport{
				Proxy:               nil,
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     90 * time.Second,
				ForceAttemptHTTP2:   false,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// WrapTransport lets the caller observe calls (metrics). Call it before use.
func (c *Client) WrapTransport(wrap func(http.RoundTripper) http.RoundTripper) {
	c.http.Transport = wrap(c.http.Transport)
}

// PublicURL is Kratos's public API base URL as Hera reaches it.
func (c *Client) PublicURL() *url.URL { return c.public }

// Browser is what Hera passes on from the browser's request when it calls
// Kratos on the browser's behalf.
type Browser struct {
	Cookie    string // the Cookie header, verbatim
	UserAgent string
	ClientIP  string // after trusted-proxy handling
	// SessionToken is an API client's X-Session-Token (native apps); Kratos
	// prefers it to the session cookie.
	SessionToken string
}

func (b Browser) apply(h http.Header) {
	if b.Cookie != "" {
		h.Set("Cookie", b.Cookie)
	}
	if b.SessionToken != "" {
		h.Set("X-Session-Token", b.SessionToken)
	}
	if b.UserAgent != "" {
		h.Set("User-Agent", b.UserAgent)
	}
	if b.ClientIP != "" {
		h.Set("X-Forwarded-For", b.ClientIP)
		h.Set("True-Client-IP", b.ClientIP)
	}
}

// APIError is an error answer from Kratos about the request (4xx).
type APIError struct {
	Status            int
	ID                string // e.g. self_service_flow_expired, security_csrf_violation
	Reason            string
	Message           string
	UseFlowID         string // 410: the flow to continue with
	RedirectBrowserTo string // 422, 403 refresh/aal2 required
}

func (e *APIError) Error() string {
	return fmt.Sprintf("kratos: %d %s: %s %s", e.Status, e.ID, e.Message, e.Reason)
}

// IsAPIError reports whether err is an APIError with the given status (any
// status when status is 0), returning it.
func IsAPIError(err error, status int) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) && (status == 0 || ae.Status == status) {
		return ae, true
	}
	return nil, false
}

// errorBody is Kratos's generic error document.
type errorBody struct {
	Error *struct {
		ID      string `json:"id"`
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Details struct {
			UseFlowID  string `json:"use_flow_id"`
			RedirectTo string `json:"redirect_to"`
		} `json:"details"`
	} `json:"error"`
	UseFlowID         string `json:"use_flow_id"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

func parseAPIError(status int, body []byte) *APIError {
	e := &APIError{Status: status}
	var eb errorBody
	if Decode(body, &eb) == nil && eb.Error != nil {
		e.ID, e.Reason, e.Message = eb.Error.ID, eb.Error.Reason, eb.Error.Message
		e.UseFlowID = eb.Error.Details.UseFlowID
		e.RedirectBrowserTo = eb.Error.Details.RedirectTo
	}
	if eb.UseFlowID != "" {
		e.UseFlowID = eb.UseFlowID
	}
	if eb.RedirectBrowserTo != "" {
		e.RedirectBrowserTo = eb.RedirectBrowserTo
	}
	return e
}

// Response is a raw Kratos answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one request. Transport failures, 5xx answers and oversized
// bodies are ErrUnavailable.
func (c *Client) do(ctx context.Context, method string, u *url.URL, body io.Reader, hdr http.Header) (*Response, error) {
	return c.send(ctx, method, u, body, hdr, nil)
}

// send is do, reading the answer into buf when it is large enough.
func (c *Client) send(ctx context.Context, method string, u *url.URL, body io.Reader, hdr http.Header, buf []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		// The *url.Error quotes the request URL, whose query carries flow
		// IDs and logout tokens: keep only the path in what may be logged.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL, _, _ = strings.Cut(ue.URL, "?")
		}
		// Wrapped, so callers can tell a cancelled request's (the browser
		// went away) from Kratos failing.
		return nil, fmt.Errorf("%w: %s %s: %w", ErrUnavailable, method, u.Path, err)
	}
	defer res.Body.Close()
	b, err := readBody(res, buf)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: reading answer: %w", ErrUnavailable, method, u.Path, err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("%w: %s %s: answer larger than %d bytes", ErrUnavailable, method, u.Path, maxBody)
	}
	if res.StatusCode >= 500 {
		return nil, fmt.Errorf("%w: %s %s: status %d", ErrUnavailable, method, u.Path, res.StatusCode)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// getJSON GETs u and decodes a 200 answer into v; other answers are
// APIErrors. The answer's body is not returned: decoding copies what it
// keeps, so the buffer serves the next answer (a flow is 5-10 KB, a fifth
// of what a page view allocated).
func (c *Client) getJSON(ctx context.Context, u *url.URL, b Browser, v any) (*Response, error) {
	h := http.Header{}
	b.apply(h)
	bp, _ := c.bodies.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	res, err := c.send(ctx, http.MethodGet, u, nil, h, (*bp)[:0])
	if err != nil {
		c.bodies.Put(bp)
		return nil, err
	}
	defer func() {
		if cap(res.Body) <= maxPooledBody {
			*bp = res.Body[:0]
			c.bodies.Put(bp)
		}
		res.Body = nil
	}()
	if res.Status != http.StatusOK {
		return res, parseAPIError(res.Status, res.Body)
	}
	if err := Decode(res.Body, v); err != nil {
		return res, fmt.Errorf("%w: GET %s: malformed answer: %v", ErrUnavailable, u.Path, err)
	}
	return res, nil
}

// GetFlow fetches a browser flow with the browser's cookies (Kratos checks
// the flow's CSRF cookie).
func (c *Client) GetFlow(ctx context.Context, kind Kind, id string, b Browser) (*Flow, error) {
	u := c.public.JoinPath("/self-service", string(kind), "flows")
	u.RawQuery = url.Values{"id": {id}}.Encode()
	var f Flow
	if _, err := c.getJSON(ctx, u, b, &f); err != nil {
		return nil, err
	}
	if f.ID == "" || f.UI.Action == "" {
		return nil, fmt.Errorf("%w: flow without id or ui", ErrUnavailable)
	}
	return &f, nil
}

// GetFlowJSON returns a flow as Kratos's public API answers it, every
// field, for clients that read the flow themselves. Answers other than 200
// are APIErrors.
func (c *Client) GetFlowJSON(ctx context.Context, kind Kind, id string, b Browser) ([]byte, error) {
	u := c.public.JoinPath("/self-service", string(kind), "flows")
	u.RawQuery = url.Values{"id": {id}}.Encode()
	h := http.Header{}
	b.apply(h)
	res, err := c.do(ctx, http.MethodGet, u, nil, h)
	if err != nil {
		return nil, err
	}
	if res.Status != http.StatusOK {
		return nil, parseAPIError(res.Status, res.Body)
	}
	if !json.Valid(res.Body) {
		return nil, fmt.Errorf("%w: GET %s: malformed answer", ErrUnavailable, u.Path)
	}
	return res.Body, nil
}

// CreateBrowserFlow starts a browser flow server-side (as the browser) and
// returns it with the Set-Cookie headers (the CSRF cookie) the browser must
// receive.
func (c *Client) CreateBrowserFlow(ctx context.Context, kind Kind, q url.Values, b Browser) (*Flow, []string, error) {
	u := c.public.JoinPath("/self-service", string(kind), "browser")
	u.RawQuery = q.Encode()
	var f Flow
	res, err := c.getJSON(ctx, u, b, &f)
	if err != nil {
		return nil, nil, err
	}
	return &f, res.Header.Values("Set-Cookie"), nil
}

// Submit posts a flow form to Kratos, asking for a JSON answer so the
// outcome is exact. body is form- or JSON-encoded as contentType says.
// Only ErrUnavailable failures are errors; every Kratos answer (200, 400,
// 403, 410, 422 …) is returned as a Response.
func (c *Client) Submit(ctx context.Context, kind Kind, flowID string, body []byte, contentType string, b Browser) (*Response, error) {
	u := c.public.JoinPath("/self-service", string(kind))
	u.RawQuery = url.Values{"flow": {flowID}}.Encode()
	h := http.Header{"Content-Type": {contentType}}
	b.apply(h)
	return c.do(ctx, http.MethodPost, u, bytes.NewReader(body), h)
}

// Whoami returns the browser's session. A missing or expired session is an
// APIError with status 401; a session that needs a second factor, 403.
func (c *Client) Whoami(ctx context.Context, b Browser) (*Session, error) {
	var s Session
	if _, err := c.getJSON(ctx, c.public.JoinPath("/sessions/whoami"), b, &s); err != nil {
		return nil, err
	}
	if s.ID == "" || s.Identity == nil || s.Identity.ID == "" {
		return nil, fmt.Errorf("%w: GET /sessions/whoami: session without id or identity", ErrUnavailable)
	}
	return &s, nil
}

// ListSessions returns the browser's identity's other active sessions (not
// the current one).
func (c *Client) ListSessions(ctx context.Context, b Browser) ([]Session, error) {
	u := c.public.JoinPath("/sessions")
	u.RawQuery = url.Values{"page_size": {"250"}}.Encode()
	var ss []Session
	if _, err := c.getJSON(ctx, u, b, &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// RevokeSession ends one of the browser's identity's other sessions.
func (c *Client) RevokeSession(ctx context.Context, id string, b Browser) error {
	return c.deleteNoContent(ctx, c.public.JoinPath("/sessions", id), b)
}

// RevokeOtherSessions ends every session of the browser's identity but the
// current one.
func (c *Client) RevokeOtherSessions(ctx context.Context, b Browser) error {
	u := c.public.JoinPath("/sessions")
	h := http.Header{}
	b.apply(h)
	res, err := c.do(ctx, http.MethodDelete, u, nil, h)
	if err != nil {
		return err
	}
	if res.Status != http.StatusOK {
		return parseAPIError(res.Status, res.Body)
	}
	return nil
}

func (c *Client) deleteNoContent(ctx context.Context, u *url.URL, b Browser) error {
	h := http.Header{}
	b.apply(h)
	res, err := c.do(ctx, http.MethodDelete, u, nil, h)
	if err != nil {
		return err
	}
	if res.Status != http.StatusNoContent && res.Status != http.StatusOK {
		return parseAPIError(res.Status, res.Body)
	}
	return nil
}

// LogoutURL creates a browser logout flow and returns the URL that ends the
// session when the browser visits it.
func (c *Client) LogoutURL(ctx context.Context, returnTo string, b Browser) (string, error) {
	u := c.public.JoinPath("/self-service/logout/browser")
	if returnTo != "" {
		u.RawQuery = url.Values{"return_to": {returnTo}}.Encode()
	}
	var out struct {
		LogoutURL string `json:"logout_url"`
	}
	if _, err := c.getJSON(ctx, u, b, &out); err != nil {
		return "", err
	}
	if out.LogoutURL == "" {
		return "", fmt.Errorf("%w: logout flow without logout_url", ErrUnavailable)
	}
	return out.LogoutURL, nil
}

// Logout ends the browser's Kratos session server-side and returns the
// Set-Cookie headers that clear the session cookie. A browser without a
// session is not an error.
func (c *Client) Logout(ctx context.Context, b Browser) ([]string, error) {
	var out struct {
		LogoutToken string `json:"logout_token"`
	}
	if _, err := c.getJSON(ctx, c.public.JoinPath("/self-service/logout/browser"), b, &out); err != nil {
		if ae, ok := IsAPIError(err, http.StatusUnauthorized); ok && ae != nil {
			return nil, nil
		}
		return nil, err
	}
	u := c.public.JoinPath("/self-service/logout")
	u.RawQuery = url.Values{"token": {out.LogoutToken}}.Encode()
	h := http.Header{}
	b.apply(h)
	res, err := c.do(ctx, http.MethodGet, u, nil, h)
	if err != nil {
		return nil, err
	}
	if res.Status != http.StatusNoContent && res.Status != http.StatusOK {
		return nil, parseAPIError(res.Status, res.Body)
	}
	return res.Header.Values("Set-Cookie"), nil
}

// GetError fetches a Kratos error flow.
func (c *Client) GetError(ctx context.Context, id string) (*ErrorFlow, error) {
	u := c.public.JoinPath("/self-service/errors")
	u.RawQuery = url.Values{"id": {id}}.Encode()
	var e ErrorFlow
	if _, err := c.getJSON(ctx, u, Browser{}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// GetIdentity reads an identity through the admin API.
func (c *Client) GetIdentity(ctx context.Context, id string) (*Identity, error) {
	var i Identity
	if _, err := c.getJSON(ctx, c.admin.JoinPath("/admin/identities", id), Browser{}, &i); err != nil {
		return nil, err
	}
	return &i, nil
}

// SetIdentityState sets an identity's state ("active" or "inactive")
// through the admin API (a JSON Patch of /state). Kratos refuses an
// inactive identity's sessions and sign-ins, and Hera's token hook its
// tokens. An identity already gone is an APIError with status 404.
func (c *Client) SetIdentityState(ctx context.Context, id, state string) error {
	if id == "" || (state != "active" && state != "inactive") {
		return fmt.Errorf("kratos: SetIdentityState: id and a state of active or inactive are required")
	}
	patch := []byte(`[{"op":"replace","path":"/state","value":"` + state + `"}]`)
	res, err := c.do(ctx, http.MethodPatch, c.admin.JoinPath("/admin/identities", id), bytes.NewReader(patch),
		http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	if res.Status != http.StatusOK {
		return parseAPIError(res.Status, res.Body)
	}
	return nil
}

// DeleteIdentity deletes an identity through the admin API, with its
// credentials and sessions. An identity already gone is an APIError with
// status 404.
func (c *Client) DeleteIdentity(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("kratos: DeleteIdentity: id is required")
	}
	return c.deleteNoContent(ctx, c.admin.JoinPath("/admin/identities", id), Browser{})
}

// SessionIdentity returns the ID of the identity a session belongs to,
// through the admin API (Kratos leaves the identity out of a sign-in answer
// that still needs a second factor).
func (c *Client) SessionIdentity(ctx context.Context, sessionID string) (string, error) {
	u := c.admin.JoinPath("/admin/sessions", sessionID)
	u.RawQuery = url.Values{"expand": {"identity"}}.Encode()
	var s Session
	if _, err := c.getJSON(ctx, u, Browser{}, &s); err != nil {
		return "", err
	}
	if s.Identity == nil || s.Identity.ID == "" {
		return "", fmt.Errorf("%w: session without identity", ErrUnavailable)
	}
	return s.Identity.ID, nil
}

// maxIdentitySessions is the most sessions IdentitySessions reads: one
// page of Kratos's admin API at its largest.
const maxIdentitySessions = 1000

// IdentitySessions returns an identity's sessions, active or not, as the
// admin API keeps them (devices included), newest first as Kratos lists
// them. truncated says there are more than it read.
func (c *Client) IdentitySessions(ctx context.Context, id string) (sessions []Session, truncated bool, err error) {
	if id == "" {
		return nil, false, fmt.Errorf("kratos: IdentitySessions: id is required")
	}
	u := c.admin.JoinPath("/admin/identities", id, "sessions")
	u.RawQuery = url.Values{"page_size": {strconv.Itoa(maxIdentitySessions)}}.Encode()
	res, err := c.getJSON(ctx, u, Browser{}, &sessions)
	if err != nil {
		return nil, false, err
	}
	total, _ := strconv.Atoi(res.Header.Get("X-Total-Count"))
	return sessions, len(sessions) >= maxIdentitySessions || total > len(sessions), nil
}

// IdentityByIdentifier returns the ID of the one identity whose password,
// code or security-key credential has this identifier (Kratos normalizes
// it as its sign-in does), or "" when there is none or more than one.
func (c *Client) IdentityByIdentifier(ctx context.Context, identifier string) (string, error) {
	u := c.admin.JoinPath("/admin/identities")
	u.RawQuery = url.Values{"credentials_identifier": {identifier}, "page_size": {"2"}}.Encode()
	var ids []struct {
		ID string `json:"id"`
	}
	if _, err := c.getJSON(ctx, u, Browser{}, &ids); err != nil {
		return "", err
	}
	if len(ids) != 1 {
		return "", nil
	}
	return ids[0].ID, nil
}

// Ready reports whether both Kratos APIs answer their readiness probes.
func (c *Client) Ready(ctx context.Context) error {
	for _, u := range []*url.URL{c.public.JoinPath("/health/ready"), c.admin.JoinPath("/admin/health/ready")} {
		res, err := c.do(ctx, http.MethodGet, u, nil, nil)
		if err != nil {
			return err
		}
		if res.Status != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", u.Path, res.Status)
		}
	}
	return nil
}

// maxPooledBody is the largest answer buffer kept for reuse; rarer, larger
// ones are left to the garbage collector.
const maxPooledBody = 64 << 10

// readBody reads an answer of up to maxBody+1 bytes into one buffer sized
// from Content-Length, or from the size of a typical flow, growing it only
// for larger answers (io.ReadAll starts small and copies as it grows).
func readBody(res *http.Response, buf []byte) ([]byte, error) {
	size := 8 << 10
	if res.ContentLength >= 0 && res.ContentLength <= maxBody {
		size = int(res.ContentLength) + 1 // room for the read that sees EOF
	}
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf, _, err := readUpTo(res.Body, buf[:0], maxBody)
	return buf, err // the caller refuses more than maxBody bytes
}

// readUpTo appends what r yields to buf until EOF or until buf holds more
// than limit bytes, growing buf only when it is full; complete reports
// that EOF came within limit+1 bytes.
func readUpTo(r io.Reader, buf []byte, limit int) (out []byte, complete bool, err error) {
	for len(buf) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

// Reached reports whether a failed call may have reached Kratos: anything
// but a failure to connect (refused, unroutable, a name that does not
// resolve). A submission that reached Kratos may have been judged even if
// no answer came back (Kratos timed out or failed after reading it).
func Reached(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var dns *net.DNSError
	return !errors.As(err, &dns)
}
