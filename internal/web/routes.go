package web

import (
	"net/http"

	"github.com/heraproject/hera/internal/kratos"
)

// addRoutes is Hera's whole URL surface.
func addRoutes(mux *http.ServeMux, s *server) {
	// Every path lives under HERA_PUBLIC_URL's path, b ("" at the root).
	b := s.basePath()
	mux.Handle("GET "+b+"/health/alive", handleAlive())
	mux.Handle("GET "+b+"/health/ready", handleReady(s.Logger, readinessChecks(s.Deps)))
	mux.Handle("GET "+b+"/static/", staticFiles(b))
	if s.brand.css != nil {
		mux.Handle("GET "+b+"/brand.css", handleBrandCSS(s.brand.css, s.brand.cssHash))
	}
	if s.Options.Brand.AssetsDir != "" {
		mux.Handle("GET "+b+"/brand/{name}", handleBrandAsset(s.brand.assets, handleNotFound(s)))
	}

	// Self-service flow pages and Hera's own forms.
	for _, k := range []kratos.Kind{kratos.Login, kratos.Registration, kratos.Recovery, kratos.Verification, kratos.Settings} {
		mux.Handle("GET "+b+"/"+string(k), handleFlowPage(s, k))
	}
	mux.Handle("POST "+b+"/recovery/start", s.sameOrigin(handleRecoveryStart(s)))
	mux.Handle("GET "+b+"/error", handleErrorPage(s))
	mux.Handle("GET "+b+"/language", handleLanguage(s))
	mux.Handle("GET "+b+"/{$}", handleWelcome(s))
	mux.Handle("GET "+b+"/sessions", handleSessions(s))
	mux.Handle("POST "+b+"/sessions/revoke-others", s.sameOrigin(handleRevokeOthers(s)))
	mux.Handle("POST "+b+"/sessions/{id}/revoke", s.sameOrigin(handleRevokeSession(s)))
	if s.Activity != nil {
		mux.Handle("GET "+b+"/activity", handleActivity(s))
	}
	mux.Handle("GET "+b+"/settings/export", handleExportPage(s))
	mux.Handle("POST "+b+"/settings/export", s.sameOrigin(handleExportDownload(s)))
	mux.Handle("GET "+b+"/passkey-offer", handlePasskeyOffer(s))
	mux.Handle("POST "+b+"/passkey-offer", s.sameOrigin(handlePasskeyOfferSkip(s)))
	if s.Options.Account.Deletion {
		mux.Handle("GET "+b+"/settings/delete", handleDeleteAccountPage(s))
		mux.Handle("POST "+b+"/settings/delete", s.sameOrigin(handleDeleteAccount(s)))
		mux.Handle("GET "+b+"/goodbye", handleGoodbye(s))
	}
	mux.Handle("GET "+b+"/logout", handleLogoutPage(s))
	mux.Handle("POST "+b+"/logout", s.sameOrigin(handleLogout(s)))

	// Hydra: login (above, with ?login_challenge=), consent, logout, errors.
	mux.Handle("GET "+b+"/consent", handleConsent(s))
	mux.Handle("POST "+b+"/consent", s.sameOrigin(handleConsentDecision(s)))
	mux.Handle("GET "+b+"/oauth2/error", handleOAuth2Error(s))
	if s.Hydra != nil {
		mux.Handle("GET "+b+"/apps", handleApps(s))
		mux.Handle("POST "+b+"/apps/remove", s.sameOrigin(handleRemoveApp(s)))
	}
	if s.Hydra != nil && s.Options.OAuth2.TokenHookSecret != "" {
		// Called by Hydra, server to server: authenticated by its secret.
		mux.Handle("POST "+b+"/oauth2/token-hook", handleTokenHook(s))
	}

	if s.Events != nil && s.Options.Kratos.WebhookSecret != "" {
		// Called by Kratos after its flows, server to server:
		// authenticated by the web hook secret.
		mux.Handle("POST "+b+"/hooks/kratos/{event}", handleKratosHook(s))
		mux.Handle("POST "+b+"/hooks/kratos/settings/{method}", handleKratosHook(s))
	}

	// Kratos API: Hera's submit endpoint, the flow JSON, and the proxy.
	mux.Handle("POST "+b+apiPrefix+"/{flow}/submit", s.sameOrigin(handleSubmit(s)))
	mux.Handle("GET "+b+apiPrefix+"/flows", handleFlowJSON(s))
	mux.Handle(b+apiPrefix+"/", s.proxy)

	mux.Handle(b+"/", handleNotFound(s))
	if b != "" {
		// Outside the base path: the bare base goes to Hera's start page;
		// the health checks also answer at the root, where probes look.
		mux.Handle("GET "+b, http.RedirectHandler(b+"/", http.StatusMovedPermanently))
		mux.Handle("GET /health/alive", handleAlive())
		mux.Handle("GET /health/ready", handleReady(s.Logger, readinessChecks(s.Deps)))
		mux.Handle("/", handleNotFound(s))
	}
}
