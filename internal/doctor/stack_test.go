//go:build integration

package doctor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraproject/hera/deploy/dev"
	"github.com/heraproject/hera/internal/doctor"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// options points the doctor at a test stack, as Hera would be configured
// for it.
func options(t *testing.T, e *stacktest.Env) doctor.Options {
	t.Helper()
	o := doctor.Options{
		PublicURL:       mustURL(t, e.HeraURL),
		KratosPublicURL: mustURL(t, e.Kratos.PublicURL),
		KratosAdminURL:  mustURL(t, e.Kratos.AdminURL),
		SessionCookie:   "ory_kratos_session",
		Timeout:         10 * time.Second,
	}
	if e.Hydra != nil {
		o.HydraAdminURL = mustURL(t, e.Hydra.AdminURL)
		o.HydraPublicURL = mustURL(t, e.Hydra.PublicURL)
	}
	return o
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func runDoctor(t *testing.T, o doctor.Options) doctor.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := doctor.Run(ctx, o)
	var b strings.Builder
	_ = r.Write(&b, false)
	t.Logf("hera doctor:\n%s", b.String())
	return r
}

// recorder notes every request the doctor makes and its answer's status.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	status := "error"
	if err == nil {
		status = fmt.Sprint(res.StatusCode)
	}
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path+" "+status)
	r.mu.Unlock()
	return res, err
}

func (r *recorder) count(prefix, status string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.seen {
		if strings.HasPrefix(s, prefix) && strings.HasSuffix(s, " "+status) {
			n++
		}
	}
	return n
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
}

// TestCorrectStack: on the test stack, configured as docs/kratos-setup.md
// says, every check passes, and what the checks created — the temporary
// identity with its session, the OAuth2 client, Hydra's login session — is
// gone afterwards.
func TestCorrectStack(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{Hydra: true})
	rec := &recorder{}
	o := options(t, e)
	o.Transport = rec
	r := runDoctor(t, o)
	if r.Failed() != 0 || r.Skipped() != 0 || r.Passed() < 15 {
		t.Errorf("%d problems, %d not checked, %d passed on the correct stack", r.Failed(), r.Skipped(), r.Passed())
	}

	for _, del := range []string{"DELETE /admin/identities/", "DELETE /admin/oauth2/auth/sessions/login", "DELETE /admin/clients/hera-doctor-"} {
		if rec.count(del, "204") != 1 {
			t.Errorf("no %s…: %v", del, rec.seen)
		}
	}
	var identities []any
	getJSON(t, e.Kratos.AdminURL+"/admin/identities", &identities)
	if len(identities) != 0 {
		t.Errorf("identities left behind: %v", identities)
	}
	var clients []struct {
		ID string `json:"client_id"`
	}
	getJSON(t, e.Hydra.AdminURL+"/admin/clients", &clients)
	if len(clients) != 0 {
		t.Errorf("clients left behind: %v", clients)
	}
}

// TestOtherStacks: the identity schemas and login style the dev stack
// offers are checked in full; a stack without password sign-in or recovery
// says what it could not check; SameSite=Strict is a problem.
func TestOtherStacks(t *testing.T) {
	schema := func(name string) []byte {
		b, err := dev.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name          string
		o             stacktest.Options
		fail, skipped []string
	}{{
		name: "username schema and identifier-first sign-in",
		o: stacktest.Options{Schema: schema("identity.username.schema.json"),
			KratosEnv: []string{"SELFSERVICE_FLOWS_LOGIN_STYLE=identifier_first", "SECURITY_ACCOUNT_ENUMERATION_MITIGATE=true"}},
	}, {
		name: "under a path prefix",
		o:    stacktest.Options{PathPrefix: "/auth", Hydra: true},
	}, {
		name: "phone schema",
		o:    stacktest.Options{Schema: schema("identity.phone.schema.json")},
	}, {
		name: "no password and no recovery",
		o: stacktest.Options{KratosEnv: []string{"SELFSERVICE_METHODS_PASSWORD_ENABLED=false",
			"SELFSERVICE_FLOWS_RECOVERY_ENABLED=false"}},
		skipped: []string{"kratos.ui_url.recovery", "kratos.session"},
	}, {
		name: "SameSite=Strict",
		o:    stacktest.Options{KratosEnv: []string{"COOKIES_SAME_SITE=Strict"}},
		fail: []string{"kratos.cookie.session.same_site"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := stacktest.Start(t, tc.o)
			r := runDoctor(t, options(t, e))
			var fail, skipped []string
			for _, res := range r.Results {
				switch res.Status {
				case doctor.Fail:
					fail = append(fail, res.Check)
				case doctor.Skip:
					skipped = append(skipped, res.Check)
				}
			}
			if strings.Join(fail, " ") != strings.Join(tc.fail, " ") || strings.Join(skipped, " ") != strings.Join(tc.skipped, " ") {
				t.Errorf("problems %v, not checked %v; want %v and %v", fail, skipped, tc.fail, tc.skipped)
			}
			var identities []any
			getJSON(t, e.Kratos.AdminURL+"/admin/identities", &identities)
			if len(identities) != 0 {
				t.Errorf("identities left behind: %v", identities)
			}
		})
	}
}

// TestCanceled: a doctor cut short still removes what it created.
func TestCanceled(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{Hydra: true})
	o := options(t, e)
	// Cancel as soon as the OAuth2 client and the identity exist.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var created sync.WaitGroup
	created.Add(2)
	var once [2]sync.Once
	o.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		res, err := http.DefaultTransport.RoundTrip(req)
		if err == nil && req.Method == http.MethodPost && res.StatusCode == http.StatusCreated {
			switch req.URL.Path {
			case "/admin/identities":
				once[0].Do(created.Done)
			case "/admin/clients":
				once[1].Do(created.Done)
			}
		}
		return res, err
	})
	go func() {
		created.Wait()
		cancel()
	}()
	r := doctor.Run(ctx, o)
	t.Logf("%d problems, %d passed, %d not checked after the cancel", r.Failed(), r.Passed(), r.Skipped())
	var identities []any
	getJSON(t, e.Kratos.AdminURL+"/admin/identities", &identities)
	var clients []any
	getJSON(t, e.Hydra.AdminURL+"/admin/clients", &clients)
	if len(identities) != 0 || len(clients) != 0 {
		t.Errorf("left behind: identities %v, clients %v", identities, clients)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
