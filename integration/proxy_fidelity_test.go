package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/webtest"
)

// getWithCookies sends GET u with the cookies browser b holds for Hera, as
// a script in Hera's page would (JSON asked for), and no redirect
// followed.
func getWithCookies(t *testing.T, b *webtest.Browser, u string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "application/json")
	hera, _ := url.Parse(b.Base)
	for _, c := range b.Jar.Cookies(hera) {
		req.AddCookie(c)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, body
}

// jsonDiff lists where two decoded JSON values differ (at most 20 paths).
func jsonDiff(path string, a, b any, out *[]string) {
	if len(*out) >= 20 {
		return
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: %T vs %T", path, a, b))
			return
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case !inA:
				*out = append(*out, fmt.Sprintf("%s.%s: missing in Hera's answer (Kratos: %v)", path, k, y))
			case !inB:
				*out = append(*out, fmt.Sprintf("%s.%s: only in Hera's answer (%v)", path, k, x))
			default:
				jsonDiff(path+"."+k, x, y, out)
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			*out = append(*out, fmt.Sprintf("%s: %v vs %v", path, a, b))
			return
		}
		for i := range av {
			jsonDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], out)
		}
	default:
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, fmt.Sprintf("%s: Hera %v, Kratos %v", path, a, b))
		}
	}
}

// TestFlowJSONIsKratos: GET /api/kratos/flows?id= answers Kratos's own flow
// document, every field, as Kratos's GET /self-service/<kind>/flows?id=
// answers it to the same browser; and Kratos's provider-less social
// sign-in callback (providers with "pkce: force") is forwarded.
//
// Before the change Hera decoded the flow into its own kratos.Flow and
// encoded that, dropping every field it does not model (state,
// request_url, the nodes' meta, …), and refused
// /self-service/methods/oidc/callback without a provider with its own 404.
func TestFlowJSONIsKratos(t *testing.T) {
	e := startHera(t, stacktest.Options{})

	same := func(t *testing.T, b *webtest.Browser, kind, id string) {
		t.Helper()
		kst, _, kraw := getWithCookies(t, b, e.Kratos.PublicURL+"/self-service/"+kind+"/flows?id="+url.QueryEscape(id))
		if kst != http.StatusOK {
			t.Fatalf("Kratos's %s flow: %d %s", kind, kst, kraw)
		}
		var want any
		if err := json.Unmarshal(kraw, &want); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"id=" + url.QueryEscape(id), "type=" + kind + "&id=" + url.QueryEscape(id)} {
			st, h, raw := getWithCookies(t, b, e.HeraURL+"/api/kratos/flows?"+q)
			if st != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Fatalf("Hera's %s flow (%s): %d %s %s", kind, q, st, h.Get("Content-Type"), raw)
			}
			var got any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("Hera's %s flow (%s) is not JSON: %v", kind, q, err)
			}
			var diff []string
			jsonDiff(kind, got, want, &diff)
			if len(diff) > 0 {
				t.Errorf("Hera's %s flow (%s) differs from Kratos's:\n%s", kind, q, strings.Join(diff, "\n"))
			}
			if len(diff) == 0 && string(raw) != string(kraw) {
				t.Errorf("Hera's %s flow (%s) is Kratos's JSON value but not its bytes:\n%s", kind, q, webtest.FirstDiff(string(raw), string(kraw)))
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("Hera's %s flow: Cache-Control %q", kind, h.Get("Cache-Control"))
			}
		}
	}

	b := webtest.New(t, e.HeraURL)
	for _, kind := range []string{"login", "registration", "recovery", "verification"} {
		t.Run(kind, func(t *testing.T) {
			p := b.Get("/" + kind)
			mustPath(t, p, "/"+kind)
			same(t, b, kind, p.Query("flow"))
		})
	}
	t.Run("a flow with messages", func(t *testing.T) {
		// A refused sign-in: the flow now carries Kratos's messages and
		// the typed identifier.
		p := login(t, b, "nobody@example.com", "wrong password")
		mustPath(t, p, "/login")
		same(t, b, "login", p.Query("flow"))
	})
	t.Run("settings, signed in", func(t *testing.T) {
		s := webtest.New(t, e.HeraURL)
		register(t, s, newEmail("flowjson-settings"), password)
		p := s.Get("/settings")
		mustPath(t, p, "/settings")
		same(t, s, "settings", p.Query("flow"))
	})
}

// TestOIDCCallbackWithoutProvider: Kratos's provider-less social sign-in
// callback, GET /self-service/methods/oidc/callback (where providers with
// "pkce: force" return), is forwarded to Kratos, which answers it, for a
// browser and for an API client alike. Before the change Hera refused it
// with its own 404: only the path with a provider's ID passed.
func TestOIDCCallbackWithoutProvider(t *testing.T) {
	e := startHera(t, stacktest.Options{SocialProvider: true})
	const path = "/self-service/methods/oidc/callback"
	b := webtest.New(t, e.HeraURL)
	b.Get("/login") // a browser with Kratos's CSRF cookie
	for _, q := range []string{"", "?state=not-a-state&code=not-a-code"} {
		kst, kh, kbody := getWithCookies(t, b, e.Kratos.PublicURL+path+q)
		st, h, body := getWithCookies(t, b, e.HeraURL+"/api/kratos"+path+q)
		t.Logf("%q: Kratos: %d %s %s; through Hera: %d %s %s", q, kst, kh.Get("Location"), kbody, st, h.Get("Location"), body)
		if heraRefusal(st, string(body)) || !strings.Contains(string(body), "OpenID Connect") {
			t.Fatalf("%q: not Kratos's OpenID Connect callback: %d %s", q, st, body)
		}
		if st != kst || (kh.Get("Location") == "") != (h.Get("Location") == "") {
			t.Errorf("%q: %d %q through Hera, %d %q from Kratos", q, st, h.Get("Location"), kst, kh.Get("Location"))
		}
		// A browser following the callback lands on a page, not on
		// Hera's "not found".
		p := b.Get("/api/kratos" + path + q)
		if p.Status == http.StatusNotFound {
			t.Errorf("%q: the browser got a 404 at %s: %s", q, p.URL, p.Text())
		}
	}
}
