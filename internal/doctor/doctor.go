// Package doctor checks, from outside, that Kratos and Hydra are configured
// for the Hera in front of them: that Kratos builds its form actions under
// Hera's /api/kratos/, that its cookies will come back to Hera, that every
// UI URL of Kratos and Hydra points at Hera, and that Kratos allows the
// return URLs Hera does. It asks only what their APIs reveal to any client:
// it starts flows and reads where Kratos and Hydra send the browser, and it
// reads the cookies they set.
//
// Two checks write, and undo what they wrote: the session cookie and the
// settings UI URL need a session, so the doctor creates a temporary
// identity through Kratos's admin API, signs in with it once and deletes
// it; Hydra's URLs need an OAuth2 client, so it creates one for the
// duration of the check and deletes it, with the login session and the
// requests it started.
//
// With MailOptions it also checks that alert mails can be sent: the SMTP
// server answers as Hera would send (greeting, TLS, sign-in), and "new
// sign-in" mails have the device cookies they need (CheckMail).
// With ActivityOptions it warns when Hera takes no web hooks from Kratos,
// so that each account's activity misses what only Kratos sees
// (CheckActivity).
//
// Each finding names the setting to change and shows the YAML that fixes
// it. hera doctor prints them; Hera logs them as warnings at start.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options is what Hera is configured with, and where the doctor finds
// Kratos and Hydra.
type Options struct {
	// PublicURL is Hera's public URL (HERA_PUBLIC_URL), without a trailing
	// slash.
	PublicURL *url.URL
	// AllowedReturnURLs are HERA_ALLOWED_RETURN_URLS: Kratos must allow
	// each.
	AllowedReturnURLs []string
	KratosPublicURL   *url.URL
	KratosAdminURL    *url.URL
	// SessionCookie is the name Hera expects Kratos's session cookie to
	// have (HERA_KRATOS_SESSION_COOKIE).
	SessionCookie string
	// KratosVersion is the Kratos release whose reading of identifiers,
	// addresses and session cookies Hera mirrors; another one is warned
	// about. "" skips the check.
	KratosVersion string
	// HydraAdminURL nil: Hera runs without OAuth2, Hydra is not checked.
	HydraAdminURL *url.URL
	// HydraPublicURL is where the doctor reaches Hydra's public API; nil:
	// Hydra's URLs are reported as not checked.
	HydraPublicURL *url.URL
	// NoSignIn skips the one check that writes to Kratos: signing in as a
	// temporary identity to see the session cookie and the settings UI.
	// Start-up checks set it (Kratos's login hooks would fire at every
	// start); `hera doctor` does not.
	NoSignIn bool
	// Mail, when set, is checked too (CheckMail): whether alert mails can
	// be sent.
	Mail *MailOptions
	// Activity, when set, is checked too (CheckActivity): whether Hera
	// takes Kratos's web hooks.
	Activity *ActivityOptions
	// Timeout bounds each request (10 s if zero).
	Timeout time.Duration
	// Transport is used for every request (http.DefaultTransport if nil).
	Transport http.RoundTripper
}

// Status is a check's outcome.
type Status int

// The outcomes.
const (
	Pass Status = iota
	Fail
	// Skip: the check could not be made (the reason is the message); it
	// does not count as a problem.
	Skip
	// Warn: nothing is broken, but something deserves the operator's
	// attention (the message says what); it does not count as a problem.
	Warn
)

// Result is one check's outcome.
type Result struct {
	// Check names the check, e.g. "kratos.base_url",
	// "kratos.ui_url.login", "hydra.urls.consent".
	Check   string
	Status  Status
	Message string // one line: what was found
	// Setting and Fix, for a failure: the setting to change (and where it
	// lives) and the configuration that fixes it (YAML, or a command).
	Setting string
	Fix     string
}

// Report is every check's outcome: Kratos's, Hydra's, mail's, then the
// activity's.
type Report struct {
	Results []Result
}

// Failed counts the problems found.
func (r Report) Failed() int { return r.count(Fail) }

// Passed counts the checks that passed.
func (r Report) Passed() int { return r.count(Pass) }

// Skipped counts the checks that could not be made.
func (r Report) Skipped() int { return r.count(Skip) }

// Warned counts the warnings.
func (r Report) Warned() int { return r.count(Warn) }

func (r Report) count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// Run makes every check. Kratos, Hydra and mail are checked at the same time;
// ctx bounds the whole (each request is bounded by Options.Timeout), and
// what the checks created is removed even when ctx ends first.
func Run(ctx context.Context, o Options) Report {
	d := newDoctor(o)
	var kr, hr, mr []Result
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		kr = d.kratos(ctx)
	}()
	if o.Mail != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mr = CheckMail(ctx, o.Mail)
		}()
	}
	if o.HydraAdminURL != nil {
		hr = d.hydra(ctx)
	}
	wg.Wait()
	var ar []Result
	if o.Activity != nil {
		ar = []Result{CheckActivity(o.Activity)}
	}
	return Report{Results: slices.Concat(kr, hr, mr, ar)}
}

// Write prints the report: a line per check (✓, ✗, or – for one that
// could not be made; OK, FAIL, SKIP when plain), each failure followed by
// its setting and fix, then a summary line.
func (r Report) Write(w io.Writer, plain bool) error {
	var b strings.Builder
	for _, res := range r.Results {
		b.WriteString(mark(res.Status, plain))
		b.WriteByte(' ')
		b.WriteString(res.Message)
		b.WriteByte('\n')
		if res.Status != Fail && res.Status != Warn {
			continue
		}
		if res.Setting != "" {
			b.WriteString("  setting: " + res.Setting + "\n")
		}
		if res.Fix != "" {
			b.WriteString("  fix:\n")
			for _, l := range strings.Split(strings.TrimRight(res.Fix, "\n"), "\n") {
				b.WriteString("    " + l + "\n")
			}
		}
	}
	b.WriteByte('\n')
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is one line: how many problems, passes and checks not made.
func (r Report) Summary() string {
	var s string
	if n := r.Failed(); n == 0 {
		s = "No problems found"
	} else {
		s = plural(n, "problem") + " found"
	}
	s += ": " + plural(r.Passed(), "check") + " passed"
	if n := r.Warned(); n > 0 {
		s += ", " + plural(n, "warning")
	}
	if n := r.Skipped(); n > 0 {
		s += fmt.Sprintf(", %d not checked", n)
	}
	return s + "."
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func mark(s Status, plain bool) string {
	switch {
	case s == Pass && plain:
		return "OK  "
	case s == Pass:
		return "✓"
	case s == Fail && plain:
		return "FAIL"
	case s == Fail:
		return "✗"
	case s == Warn && plain:
		return "WARN"
	case s == Warn:
		return "!"
	case plain:
		return "SKIP"
	}
	return "–"
}

// doctor holds the options and the HTTP client of one run.
type doctor struct {
	o      Options
	client *http.Client
	hera   string // Hera's public URL, no trailing slash
}

func newDoctor(o Options) *doctor {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	rt := o.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &doctor{
		o: o,
		// Redirects are never followed: where Kratos and Hydra send the
		// browser is what is checked. Cookies are handled by hand, as a
		// jar would refuse exactly the cookies worth reporting.
		client: &http.Client{
			Transport:     rt,
			Timeout:       o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		hera: strings.TrimSuffix(o.PublicURL.String(), "/"),
	}
}

// maxBody bounds what is read of an answer.
const maxBody = 1 << 20

// answer is a response with its body read.
type answer struct {
	*http.Response
	body []byte
}

// do sends a request; in, if not nil, is sent as JSON (or as a form when it
// is url.Values). Cookies are sent as given.
func (d *doctor) do(ctx context.Context, method, u string, in any, accept string, cookies []*http.Cookie) (*answer, error) {
	var body io.Reader
	ctype := ""
	switch v := in.(type) {
	case nil:
	case url.Values:
		body, ctype = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		body, ctype = strings.NewReader(string(b)), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := d.client.Do(req)
	if err != nil {
		return nil, scrubURLError(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, err
	}
	return &answer{Response: res, body: b}, nil
}

// scrubURLError drops the request URL's query from an error: it may carry
// a challenge or a flow ID.
func scrubURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return &url.Error{Op: ue.Op, URL: withoutQuery(ue.URL), Err: ue.Err}
	}
	return err
}

// withoutQuery is u without its query and fragment: what the reports show
// of a URL (queries carry flow IDs and challenges).
func withoutQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// cleanupTimeout bounds removing what a check created, after ctx ended
// too.
const cleanupTimeout = 5 * time.Second

// cleanup runs f with a context that outlives ctx by at most
// cleanupTimeout.
func cleanup(ctx context.Context, f func(context.Context)) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	f(cctx)
}
