package captcha

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Result describes a verification. Success is true exactly when Verify
// returns a nil error; the other fields are filled in as far as siteverify
// answered, for logging. No field holds the token or the secret.
type Result struct {
	Success        bool
	Hostname       string    // where the challenge was solved, as siteverify reports it
	Action         string    // the widget's action (Turnstile)
	ChallengeTS    time.Time // when the challenge was solved; zero if not reported
	ErrorCodes     []string  // error-codes of the last answer
	Attempts       int       // siteverify requests made: 0, 1 or 2
	IdempotencyKey string    // sent with every attempt of this verification
}

// Verify checks the token the widget posted in form (pass r.PostForm, not
// r.Form, so that a token in the query string does not count) for a client
// at remoteIP (an IP address, or an IP:port such as r.RemoteAddr; anything
// else is not sent).
//
// A missing, empty, malformed, over-long or repeated token field is rejected
// without calling siteverify. Otherwise Verify posts the secret, the token,
// the remote IP and a fresh idempotency key, and retries once, with the same
// key, when siteverify answers 5xx or internal-error. The whole call,
// retry included, is bounded by Config.Timeout.
//
// The error is an *Error: errors.Is(err, ErrChallengeFailed) when the user
// must solve the challenge again, errors.Is(err, ErrUnavailable) otherwise.
func (v *Verifier) Verify(ctx context.Context, form url.Values, remoteIP string) (Result, error) {
	token, verr := v.token(form)
	if verr != nil {
		return Result{}, verr
	}

	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()

	key := newIdempotencyKey()
	params := url.Values{
		"secret":          {v.secret},
		"response":        {token},
		"idempotency_key": {key},
	}
	if ip := normalizeIP(remoteIP); ip != "" {
		params.Set("remoteip", ip)
	}
	if v.provider.info().sendSiteKey {
		params.Set("sitekey", v.siteKey)
	}
	body := params.Encode()

	res := Result{IdempotencyKey: key}
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		ans, status, verr, retry := v.attempt(ctx, body)
		if ans != nil {
			res.Hostname = v.clean(ans.Hostname, token, 253)
			res.Action = v.clean(ans.Action, token, 64)
			res.ErrorCodes = v.cleanCodes(ans.ErrorCodes, token)
			res.ChallengeTS, _ = time.Parse(time.RFC3339, ans.ChallengeTS)
		} else {
			res.Hostname, res.Action, res.ErrorCodes, res.ChallengeTS = "", "", nil, time.Time{}
		}
		if verr == nil {
			verr, retry = v.judge(ans, &res)
		}
		if verr == nil {
			res.Success = true
			return res, nil
		}
		verr.Attempts = attempt
		if status != http.StatusOK {
			verr.Status = status
		}
		if verr.Codes == nil {
			verr.Codes = slices.Clone(res.ErrorCodes)
		}
		if !retry || attempt == 2 || !sleep(ctx, retryDelay) {
			return res, verr
		}
	}
}

// token returns the single token in form, or why there is none usable.
func (v *Verifier) token(form url.Values) (string, *Error) {
	challenge := func(r Reason) *Error { return &Error{Fault: FaultChallenge, Reason: r} }
	vals := form[v.provider.FormField()]
	switch {
	case len(vals) == 0:
		return "", challenge(ReasonMissingToken)
	case len(vals) > 1:
		return "", challenge(ReasonDuplicateToken)
	}
	t := vals[0]
	switch {
	case t == "":
		return "", challenge(ReasonEmptyToken)
	case len(t) > MaxTokenLen:
		return "", challenge(ReasonTokenTooLong)
	case !onlyChars(t, isTokenChar):
		return "", challenge(ReasonMalformedToken)
	}
	return t, nil
}

// answer is a siteverify response body.
type answer struct {
	Success     *bool    `json:"success"`
	ChallengeTS string   `json:"challenge_ts"`
	Hostname    string   `json:"hostname"`
	ErrorCodes  []string `json:"error-codes"`
	Action      string   `json:"action"`
}

// attempt makes one siteverify request. It returns the decoded answer of a
// 200 response, or an error and whether a retry may help.
func (v *Verifier) attempt(ctx context.Context, body string) (ans *answer, status int, verr *Error, retry bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.verifyURL, strings.NewReader(body))
	if err != nil {
		return nil, 0, unavailable(ReasonTransport, errors.New("cannot build request")), false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hera-captcha")

	resp, err := v.client.Do(req)
	if err != nil {
		return nil, 0, requestError(ctx, err), false
	}
	defer resp.Body.Close()
	status = resp.StatusCode

	if status != http.StatusOK {
		// Drain a little so the connection can be reused; the content is
		// not trusted, not shown and not needed.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
		return nil, status, unavailable(ReasonHTTPStatus, nil), status >= 500 && status <= 599
	}

	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, status, requestError(ctx, err), false
	}
	if len(data) > MaxResponseBytes {
		return nil, status, unavailable(ReasonBadResponse, errors.New("answer larger than 64 KiB")), false
	}
	var a answer
	// The decoder's messages may quote the body; keep them out of the error.
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, status, unavailable(ReasonBadResponse, errors.New("answer is not siteverify JSON")), false
	}
	if a.Success == nil {
		return nil, status, unavailable(ReasonBadResponse, errors.New(`answer has no boolean "success"`)), false
	}
	return &a, status, nil, false
}

// judge decides on a decoded answer. res already holds the cleaned fields.
// It returns nil when the token passed, and whether a retry may help.
func (v *Verifier) judge(a *answer, res *Result) (*Error, bool) {
	if !*a.Success {
		var misconfigured, internal bool
		for _, c := range res.ErrorCodes {
			misconfigured = misconfigured || configCodes[c]
			internal = internal || c == CodeInternalError
		}
		switch {
		case misconfigured:
			return unavailable(ReasonMisconfigured, nil), false
		case internal:
			return unavailable(ReasonProviderError, nil), true
		}
		return &Error{Fault: FaultChallenge, Reason: ReasonRejected}, false
	}
	if len(v.hostnames) > 0 && !containsFold(v.hostnames, res.Hostname) {
		return &Error{Fault: FaultChallenge, Reason: ReasonHostnameMismatch}, false
	}
	if v.action != "" && res.Action != v.action {
		return &Error{Fault: FaultChallenge, Reason: ReasonActionMismatch}, false
	}
	return nil, false
}

func unavailable(r Reason, err error) *Error {
	return &Error{Fault: FaultUnavailable, Reason: r, Err: err}
}

// requestError classifies a failed request or body read. The *url.Error
// wrapper is dropped: its text repeats the verify URL, which an operator may
// have configured with credentials in the query.
func requestError(ctx context.Context, err error) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return unavailable(ReasonTimeout, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return unavailable(ReasonCanceled, context.Canceled)
	case errors.As(err, &ne) && ne.Timeout():
		return unavailable(ReasonTimeout, err)
	}
	return unavailable(ReasonTransport, err)
}

// sleep waits d, or returns false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// newIdempotencyKey returns a random (version 4) UUID.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24 aborts instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// normalizeIP returns the address in s (an IP or IP:port), or "".
func normalizeIP(s string) string {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("").String()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("").String()
	}
	return ""
}

// clean makes a string from the answer safe to log: short, from a plain
// alphabet, and never the token or the secret (should a broken proxy echo
// the request).
func (v *Verifier) clean(s, token string, max int) string {
	if s == "" {
		return ""
	}
	if strings.Contains(s, v.secret) || strings.Contains(s, token) {
		return "(redacted)"
	}
	if len(s) > max || !onlyChars(s, isSafeChar) {
		return "(invalid)"
	}
	return s
}

func (v *Verifier) cleanCodes(codes []string, token string) []string {
	const maxCodes = 8
	if len(codes) == 0 {
		return nil
	}
	out := make([]string, 0, min(len(codes), maxCodes))
	for _, c := range codes {
		if len(out) == maxCodes {
			break
		}
		out = append(out, v.clean(c, token, 64))
	}
	return out
}

func isSafeChar(c byte) bool { return isKeyChar(c) || c == '.' || c == ':' }

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
