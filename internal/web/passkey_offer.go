package web

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// passkeyOfferCookie remembers on a browser that its user said "not now"
// to the passkey offer. It holds nothing but that.
const passkeyOfferCookie = "hera_passkey_offer"

// offersPasskey reports whether a successful sign-in leads to the passkey
// offer before it goes on: a browser sign-in whose session was made with a
// password and no passkey or security key, on a browser that did not say
// "not now" lately. Whether the account already has a passkey, and whether
// Kratos offers passkeys at all, the offer page asks Kratos (a settings
// flow shows both); it goes straight on when either rules the offer out.
func (s *server) offersPasskey(r *http.Request, o *kratos.Outcome) bool {
	if !s.Options.Account.PasskeyOffer || o.Session == nil {
		return false
	}
	if c, err := r.Cookie(passkeyOfferCookie); err == nil && c.Value != "" {
		return false
	}
	password := false
	for _, m := range o.Session.AuthenticationMethods {
		switch m.Method {
		case "password":
			password = true
		case "passkey", "webauthn":
			return false
		}
	}
	return password
}

// passkeyOfferURL is the offer page, going on to next afterwards.
func (s *server) passkeyOfferURL(next string) string {
	if next == "" {
		return s.url("/passkey-offer")
	}
	return s.url("/passkey-offer?" + url.Values{"return_to": {next}}.Encode())
}

// handlePasskeyOffer offers to add a passkey, with the passkey part of a
// new settings flow whose return_to is where the sign-in was going (an
// OAuth2 login challenge included): adding the passkey goes on there, and
// so does "not now". When there is nothing to offer — the browser is not
// signed in, Kratos has no passkeys, the account has one, or Kratos fails
// — the browser goes on at once: the offer never stands in the way.
func handlePasskeyOffer(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		next, ok := s.offerNext(w, r, r.URL.Query().Get("return_to"))
		if !ok {
			return
		}
		goOn := func() { http.Redirect(w, r, next, http.StatusSeeOther) }
		if c, err := r.Cookie(passkeyOfferCookie); err == nil && c.Value != "" || !s.Options.Account.PasskeyOffer {
			goOn()
			return
		}
		q := url.Values{}
		if rt := r.URL.Query().Get("return_to"); rt != "" {
			q.Set("return_to", next)
		}
		f, cookies, err := s.Kratos.CreateBrowserFlow(ctx, kratos.Settings, q, s.browser(r))
		if err != nil {
			if _, refused := kratos.IsAPIError(err, 0); !refused {
				s.Logger.WarnContext(ctx, "passkey offer: no settings flow", "err", err)
			}
			goOn()
			return
		}
		s.flowTypes.put(f.ID, f.Type == "api")
		if !canAddPasskey(f) {
			goOn()
			return
		}
		for _, c := range cookies {
			w.Header().Add("Set-Cookie", c)
		}
		t := s.translator(r)
		fp := newFlowPage(kratos.Settings, f, viewContext{
			submitPath:   s.url(apiPrefix + "/" + string(kratos.Settings) + "/submit?flow=" + url.QueryEscape(f.ID)),
			kratosPrefix: s.kratosPrefix + "/",
		}, t)
		// The passkey section alone, its button the page's main action;
		// the page's heading says what it is for.
		fp.Forms = slices.DeleteFunc(fp.Forms, func(f view.Form) bool { return f.Group != "passkey" })
		fp.Sections = false
		for i := range fp.Forms {
			fp.Forms[i].Heading = ""
			for j := range fp.Forms[i].Items {
				if it := &fp.Forms[i].Items[j]; it.Kind == "trigger" && it.Name == "passkey_register_trigger" {
					it.Primary = true
				}
			}
		}
		v := view.PasskeyOfferView{Flow: fp, ReturnTo: r.URL.Query().Get("return_to")}
		if v.ReturnTo != "" {
			v.ReturnTo = next
		}
		p := &view.Page{Title: t.T("hera.passkey_offer.title"), Scripts: fp.Scripts, ScriptPrefix: s.kratosPrefix + "/", Lang: t.lang}
		s.render.page(w, r, http.StatusOK, p, view.PasskeyOffer(p, &v))
	})
}

// handlePasskeyOfferSkip is "not now": the browser is not offered a
// passkey again for HERA_PASSKEY_OFFER_SNOOZE, and goes on.
func handlePasskeyOfferSkip(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.parseForm(w, r) {
			return
		}
		next, ok := s.offerNext(w, r, r.PostForm.Get("return_to"))
		if !ok {
			return
		}
		http.SetCookie(w, &http.Cookie{Name: passkeyOfferCookie, Value: "later", Path: s.cookiePath(),
			MaxAge: int(s.Options.Account.PasskeyOfferSnooze / time.Second), HttpOnly: true,
			Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// offerNext is where the offer goes on to: returnTo if the allowlist allows
// it, Hera's start page without one. A refused one is explained (and
// logged) instead.
func (s *server) offerNext(w http.ResponseWriter, r *http.Request, returnTo string) (string, bool) {
	if returnTo == "" {
		return s.url("/"), true
	}
	abs, ok := s.redirects.Allowed(returnTo)
	if !ok {
		s.Logger.WarnContext(r.Context(), "redirect refused", "path", r.URL.Path, "return_to", redactedTarget(returnTo))
		s.redirectRefused(w, r)
		return "", false
	}
	return abs, true
}

// canAddPasskey reports whether a settings flow lets its identity add a
// first passkey: Kratos has passkeys on (the flow has the passkey group's
// registration data) and the identity has none (no passkey to remove).
func canAddPasskey(f *kratos.Flow) bool {
	add := false
	for _, n := range f.UI.Nodes {
		if n.Group != "passkey" {
			continue
		}
		switch n.Attributes.Name {
		case "passkey_remove":
			return false
		case "passkey_create_data":
			add = true
		}
	}
	return add
}
