package web

import (
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/web/view"
)

// handleApps lists the OAuth2 clients the signed-in user has granted
// access to (Hydra's consent sessions), one entry per client.
func handleApps(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sess, err := s.Kratos.Whoami(ctx, s.browser(r))
		if s.needSignIn(w, r, err, "/apps") {
			return
		}
		grants, truncated, err := s.Hydra.ListConsentSessions(ctx, sess.Identity.ID)
		if err != nil {
			s.hydraFailure(w, r, err)
			return
		}
		t := s.translator(r)
		v := view.AppsView{Apps: s.appViews(grants, t), Truncated: truncated}
		if r.URL.Query().Get("done") == "removed" {
			v.Messages = []view.Alert{{ID: "done", Type: "success", Text: t.T("hera.apps.removed")}}
		}
		p := &view.Page{Title: t.T("hera.apps.title"), Lang: t.lang}
		s.render.page(w, r, http.StatusOK, p, view.Apps(p, &v))
	})
}

// grantedApp is one client the user allowed: the scopes granted in any of
// its consents and the latest date.
type grantedApp struct {
	client *hydra.OAuth2Client
	scopes []string
	at     time.Time
}

// mergeGrants merges the consents of each client (a client asked several
// times has several). Newest first.
func mergeGrants(grants []hydra.GrantedConsent) []*grantedApp {
	byID := map[string]*grantedApp{}
	for i := range grants {
		c := grants[i].Client()
		if c == nil || c.ClientID == "" {
			continue
		}
		a := byID[c.ClientID]
		if a == nil {
			a = &grantedApp{client: c}
			byID[c.ClientID] = a
		}
		for _, sc := range grants[i].GrantScope {
			if !slices.Contains(a.scopes, sc) {
				a.scopes = append(a.scopes, sc)
			}
		}
		if at := grants[i].HandledAt; at != nil && at.After(a.at) {
			a.at = *at
		}
	}
	apps := make([]*grantedApp, 0, len(byID))
	for _, a := range byID {
		apps = append(apps, a)
	}
	sort.Slice(apps, func(i, j int) bool {
		if !apps[i].at.Equal(apps[j].at) {
			return apps[i].at.After(apps[j].at)
		}
		return apps[i].client.ClientID < apps[j].client.ClientID
	})
	return apps
}

// appViews are the clients the user allowed, one entry per client, newest
// first.
func (s *server) appViews(grants []hydra.GrantedConsent, t translator) []view.AppView {
	apps := mergeGrants(grants)
	out := make([]view.AppView, 0, len(apps))
	for _, a := range apps {
		v := view.AppView{ClientID: a.client.ClientID, Name: a.client.DisplayName(),
			LogoURI: safeHTTPURL(a.client.LogoURI), URI: safeHTTPURL(a.client.ClientURI)}
		for _, sc := range a.scopes {
			v.Scopes = append(v.Scopes, scopeText(sc, t))
		}
		if !a.at.IsZero() {
			v.GrantedAt = a.at.UTC().Format(time.RFC3339)
			v.GrantedText = s.catalog.FormatTime(t.lang, a.at, "datetime")
		}
		out = append(out, v)
	}
	return out
}

// handleRemoveApp revokes one client's access: Hydra forgets the consents
// and revokes the access and refresh tokens issued under them.
func handleRemoveApp(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if !s.parseForm(w, r) {
			return
		}
		client := r.PostForm.Get("client_id")
		if client == "" || len(client) > 255 {
			s.errorPage(w, r, http.StatusBadRequest, nil)
			return
		}
		sess, err := s.Kratos.Whoami(ctx, s.browser(r))
		if s.needSignIn(w, r, err, "/apps") {
			return
		}
		name := ""
		if s.Events != nil {
			// The event names the app as the list did.
			if grants, _, err := s.Hydra.ListConsentSessions(ctx, sess.Identity.ID); err == nil {
				for i := range grants {
					if c := grants[i].Client(); c != nil && c.ClientID == client {
						name = c.DisplayName()
						break
					}
				}
			}
		}
		if err := s.Hydra.RevokeConsentSessions(ctx, sess.Identity.ID, client); err != nil {
			s.hydraFailure(w, r, err)
			return
		}
		s.Logger.InfoContext(ctx, "oauth2 app access removed", "client_id", client)
		if s.Events != nil {
			s.Events.AppRemoved(sess.Identity.ID, name, client, s.eventClient(r, sess.ID))
		}
		http.Redirect(w, r, s.url("/apps?done=removed"), http.StatusSeeOther)
	})
}
