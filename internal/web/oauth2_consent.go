package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

func scopeText(scope string, t translator) string {
	if k := "hera.scope." + scope; t.T(k) != k {
		return t.T(k)
	}
	return t.T("hera.scope.other", "scope", scope)
}

// handleConsent serves /consent?consent_challenge=: skip when Hydra, the
// client or the operator says so, else ask.
func handleConsent(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("consent_challenge")
		if s.Hydra == nil || challenge == "" {
			s.errorPage(w, r, http.StatusNotFound, nil)
			return
		}
		cr, err := s.Hydra.GetConsentRequest(r.Context(), challenge)
		if err != nil {
			s.hydraFailure(w, r, err)
			return
		}
		trusted := cr.Client != nil && (cr.Client.SkipConsent || slices.Contains(s.Options.OAuth2.TrustedClients, cr.Client.ClientID))
		if cr.Skip || (trusted && !cr.HasPrompt("consent")) {
			// Remember only a fresh grant; Hydra keeps the existing one.
			s.acceptConsent(w, r, cr, cr.RequestedScope, !cr.Skip)
			return
		}
		if cr.HasPrompt("none") {
			to, err := s.Hydra.RejectConsent(r.Context(), challenge, hydra.Reject{Error: "consent_required",
				ErrorDescription: "The request needs the user's consent and asked not to prompt (prompt=none)."})
			if err != nil {
				s.hydraFailure(w, r, err)
				return
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		t := s.translator(r, uiLocales(cr)...)
		v := view.ConsentView{Challenge: challenge, Remember: true, Audience: cr.RequestedAccessTokenAudience,
			AudienceText: strings.Join(cr.RequestedAccessTokenAudience, ", ")}
		if c := cr.Client; c != nil {
			v.Client = view.ClientView{Name: c.DisplayName(), LogoURI: safeHTTPURL(c.LogoURI), URI: safeHTTPURL(c.ClientURI)}
			v.PolicyURI, v.TosURI = safeHTTPURL(c.PolicyURI), safeHTTPURL(c.TosURI)
		}
		for _, sc := range cr.RequestedScope {
			v.Scopes = append(v.Scopes, view.ScopeView{Name: sc, Description: scopeText(sc, t), Required: sc == "openid"})
		}
		p := &view.Page{Title: t.T("hera.consent.title"), Lang: t.lang}
		s.render.page(w, r, http.StatusOK, p, view.Consent(p, &v))
	})
}

// handleConsentDecision is the consent form's POST. The form's protection
// against cross-site posting is the browser's Sec-Fetch-Site/Origin check
// (sameOrigin) and the unguessable, single-use challenge; Hydra's own CSRF
// cookie then binds the answer to the browser that started the request.
func handleConsentDecision(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Hydra == nil {
			s.errorPage(w, r, http.StatusBadRequest, nil)
			return
		}
		if !s.parseForm(w, r) {
			return
		}
		challenge := r.PostForm.Get("consent_challenge")
		cr, err := s.Hydra.GetConsentRequest(r.Context(), challenge)
		if err != nil {
			s.hydraFailure(w, r, err)
			return
		}
		if r.PostForm.Get("decision") != "allow" {
			to, err := s.Hydra.RejectConsent(r.Context(), challenge, hydra.Reject{Error: "access_denied",
				ErrorDescription: "The user denied the request."})
			if err != nil {
				s.hydraFailure(w, r, err)
				return
			}
			s.Logger.InfoContext(r.Context(), "oauth2 consent denied", "client_id", clientID(cr))
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		// Only what was requested, and of that only what was ticked.
		ticked := r.PostForm["scope"]
		var grant []string
		for _, sc := range cr.RequestedScope {
			if sc == "openid" || slices.Contains(ticked, sc) {
				grant = append(grant, sc)
			}
		}
		s.acceptConsent(w, r, cr, grant, r.PostForm.Get("remember") == "true")
	})
}

func clientID(cr *hydra.ConsentRequest) string {
	if cr.Client == nil {
		return ""
	}
	return cr.Client.ClientID
}

// acceptConsent grants scopes with ID-token claims read from the identity
// the request names (never from the browser's cookie).
func (s *server) acceptConsent(w http.ResponseWriter, r *http.Request, cr *hydra.ConsentRequest, grant []string, remember bool) {
	claims := map[string]any{}
	if m := s.Options.OAuth2.Claims; m == nil || needsClaims(m, grant) {
		id, err := s.Kratos.GetIdentity(r.Context(), cr.Subject)
		if err != nil {
			s.kratosFailure(w, r, err)
			return
		}
		if m == nil {
			// None configured: the identity's schema says which traits
			// are its e-mail, phone and username.
			st, ok := s.schemaOf(r.Context(), id.SchemaID)
			if !ok {
				st = kratos.SchemaTraits{Emails: []string{"email"}}
			}
			m = schemaClaims(st)
		}
		claims = buildClaims(m, grant, id)
	}
	to, err := s.Hydra.AcceptConsent(r.Context(), cr.Challenge, hydra.AcceptConsent{
		GrantScope:               grant,
		GrantAccessTokenAudience: cr.RequestedAccessTokenAudience,
		Remember:                 remember,
		RememberFor:              int64(s.Options.OAuth2.ConsentRememberFor / time.Second),
		Session:                  hydra.ConsentSession{IDToken: claims},
	})
	if err != nil {
		s.hydraFailure(w, r, err)
		return
	}
	s.Logger.InfoContext(r.Context(), "oauth2 consent accepted", "client_id", clientID(cr), "scopes", strings.Join(grant, " "), "remember", remember)
	if s.Events != nil && !cr.Skip {
		// A fresh grant (not one Hydra remembered) is one of the
		// account's events.
		s.Events.AppAllowed(cr.Subject, cr.Client.DisplayName(), clientID(cr), grant, s.eventClient(r, ""))
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func needsClaims(m map[string]map[string]string, grant []string) bool {
	for _, sc := range grant {
		if len(m[sc]) > 0 {
			return true
		}
	}
	return false
}

// buildClaims maps traits to claims for the granted scopes. Sources are a
// trait path, "verified:<path>" or "join:<path> <path>…"; claims whose
// source is empty are left out.
func buildClaims(m map[string]map[string]string, grant []string, id *kratos.Identity) map[string]any {
	var traits map[string]any
	_ = json.Unmarshal(id.Traits, &traits)
	out := map[string]any{}
	for _, sc := range grant {
		for claim, src := range m[sc] {
			switch {
			case strings.HasPrefix(src, "verified:"):
				addr, _ := tracePath(traits, strings.TrimPrefix(src, "verified:")).(string)
				if addr == "" {
					continue
				}
				verified := false
				for _, va := range id.VerifiableAddresses {
					if strings.EqualFold(va.Value, addr) && va.Verified {
						verified = true
					}
				}
				out[claim] = verified
			case strings.HasPrefix(src, "join:"):
				var parts []string
				for _, p := range strings.Fields(strings.TrimPrefix(src, "join:")) {
					if v, ok := tracePath(traits, p).(string); ok && v != "" {
						parts = append(parts, v)
					}
				}
				if len(parts) > 0 {
					out[claim] = strings.Join(parts, " ")
				}
			default:
				if v := tracePath(traits, src); v != nil && v != "" {
					out[claim] = v
				}
			}
		}
	}
	return out
}

func tracePath(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// uiLocales are the languages the OAuth2 request asked for.
func uiLocales(cr *hydra.ConsentRequest) []string {
	if cr.OIDCContext == nil {
		return nil
	}
	return cr.OIDCContext.UILocales
}
