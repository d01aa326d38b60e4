package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
	"golang.org/x/oauth2"
)

// hydraAdminGate is a reverse proxy in front of Hydra's admin API, for
// Hera only: it holds or fails the revocations an account deletion makes
// (DELETE /admin/oauth2/auth/sessions/{consent,login}?subject=…) and
// passes everything else.
type hydraAdminGate struct {
	target atomic.Pointer[url.URL]
	// mode: "" pass, "hold" (until release, at most holdMax), "fail" (500).
	mu      sync.Mutex
	mode    string
	entered chan struct{} // closed when the first held revocation arrives
	release chan struct{} // closed by the test to let the held ones go on
	once    *sync.Once
	srv     *httptest.Server
}

const holdMax = 10 * time.Second

func newHydraAdminGate(t *testing.T) *hydraAdminGate {
	g := &hydraAdminGate{once: &sync.Once{}}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(g.target.Load())
		pr.Out.Host = pr.In.Host
	}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.target.Load() == nil {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		revocation := r.Method == http.MethodDelete && r.URL.Query().Get("subject") != "" &&
			(r.URL.Path == "/admin/oauth2/auth/sessions/consent" || r.URL.Path == "/admin/oauth2/auth/sessions/login")
		g.mu.Lock()
		mode, entered, release, once := g.mode, g.entered, g.release, g.once
		g.mu.Unlock()
		if revocation {
			switch mode {
			case "fail":
				http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
				return
			case "hold":
				once.Do(func() { close(entered) })
				select {
				case <-release:
				case <-time.After(holdMax):
				}
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *hydraAdminGate) set(mode string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mode = mode
	g.entered = make(chan struct{})
	g.release = make(chan struct{})
	g.once = &sync.Once{}
}

// identityState is the identity's state in Kratos, or "" if it is gone.
func identityState(t *testing.T, e *heraEnv, id string) string {
	t.Helper()
	res, err := http.Get(e.Kratos.AdminURL + "/admin/identities/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return ""
	}
	var i struct {
		State string `json:"state"`
	}
	if err := json.NewDecoder(res.Body).Decode(&i); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("identity %s: %d %v", id, res.StatusCode, err)
	}
	return i.State
}

// deleteAccount submits the deletion form in b.
func deleteAccount(t *testing.T, b *webtest.Browser) *webtest.Page {
	t.Helper()
	p := b.Get("/settings/delete")
	mustPath(t, p, "/settings/delete")
	return b.SubmitAt(p.FormByAction("/settings/delete"), "/settings/delete", map[string]string{"confirm": "delete"})
}

// TestDeleteAccountDeactivatesFirst (defect 7): an account deletion
// deactivates the identity in Kratos before it revokes anything in Hydra,
// so an authorization code exchanged while the deletion runs gets no
// tokens (Hera's token hook refuses an inactive identity); if Hydra fails,
// the identity is active again and the user can sign in and retry.
//
// Before the change the deletion revoked in Hydra first with the identity
// still active: the code exchanged in that window got tokens (the token
// hook found an active identity), so the first subtest failed on its
// "exchange during the deletion" check.
func TestDeleteAccountDeactivatesFirst(t *testing.T) {
	gate := newHydraAdminGate(t)
	e := startHera(t, stacktest.Options{Hydra: true}, "HYDRA_ADMIN_URL="+gate.srv.URL)
	target, err := url.Parse(e.Hydra.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	gate.target.Store(target)
	app := newRP(t, e, "deleted-midway-app", nil)

	t.Run("a code exchanged during the deletion gets no tokens", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		register(t, b, newEmail("delete-window"), password)
		id := identityID(t, b, e)
		// An authorization code for the user, not exchanged yet.
		p, verifier := app.start(b)
		if p.URL.Path == "/consent" {
			p = b.Submit(p.Form("decision", "allow"), "decision", "allow", nil)
		}
		code := app.callback(p).Get("code")
		if code == "" {
			t.Fatal("no authorization code")
		}

		gate.set("hold")
		entered, release := gate.entered, gate.release
		type result struct {
			tok     *oauth2.Token
			err     error
			state   string // the identity's state in the window
			entered bool
		}
		done := make(chan result, 1)
		go func() {
			defer close(release)
			select {
			case <-entered:
			case <-time.After(holdMax):
				done <- result{}
				return
			}
			// The deletion is between Kratos and Hydra: exchange now.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tok, err := app.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			var st string
			if res, gerr := http.Get(e.Kratos.AdminURL + "/admin/identities/" + id); gerr == nil {
				var i struct {
					State string `json:"state"`
				}
				_ = json.NewDecoder(res.Body).Decode(&i)
				res.Body.Close()
				st = i.State
			}
			done <- result{tok: tok, err: err, state: st, entered: true}
		}()
		p = deleteAccount(t, b)
		r := <-done
		gate.set("")
		if !r.entered {
			t.Fatal("the deletion never revoked in Hydra")
		}
		mustPath(t, p, "/goodbye")
		if r.state != "inactive" {
			t.Errorf("identity state while Hydra revokes: %q, want inactive", r.state)
		}
		var re *oauth2.RetrieveError
		if r.err == nil {
			t.Errorf("the code was exchanged for tokens during the deletion (access token %q…)", r.tok.AccessToken[:8])
		} else if !errors.As(r.err, &re) || re.ErrorCode != "access_denied" {
			t.Errorf("exchange during the deletion: %v, want access_denied from the token hook", r.err)
		}
		if !strings.Contains(e.logs.String(), "tokens refused to a deactivated identity") {
			t.Error("the token hook did not refuse a deactivated identity")
		}
		if st := identityState(t, e, id); st != "" {
			t.Errorf("identity after the deletion: state %q, want gone", st)
		}
	})

	t.Run("when Hydra fails the identity is active again", func(t *testing.T) {
		b := webtest.New(t, e.HeraURL)
		email := newEmail("delete-hydra-down")
		register(t, b, email, password)
		id := identityID(t, b, e)
		tok, _ := app.signIn(b)

		gate.set("fail")
		p := deleteAccount(t, b)
		gate.set("")
		if p.Status != http.StatusBadGateway {
			t.Errorf("deletion with Hydra failing: %d at %s, want 502", p.Status, p.URL)
		}
		if st := identityState(t, e, id); st != "active" {
			t.Fatalf("identity after a failed deletion: state %q, want active", st)
		}
		// The browser's session works again, a fresh sign-in works, and
		// the app's tokens are honoured: the user can try again.
		if !b.Get("/").Contains("signed in as") {
			t.Error("the session no longer works")
		}
		other := webtest.New(t, e.HeraURL)
		mustPath(t, login(t, other, email, password), "/")
		if err := app.refresh(tok); err != nil {
			t.Errorf("refresh after a failed deletion: %v", err)
		}
		// And the retry deletes.
		mustPath(t, deleteAccount(t, b), "/goodbye")
		if st := identityState(t, e, id); st != "" {
			t.Errorf("identity after the retry: state %q, want gone", st)
		}
	})
}
