package web

import (
	"net/http"

	"github.com/heraproject/hera/internal/kratos"
)

// addRoutes is Hera's whole URL surface.
func addRoutes(mux *http.ServeMux, s *server) {
	mux.Handle("GET /health/alive", handleAlive())
	mux.Handle("GET /health/ready", handleReady(s.Logger, readinessChecks(s.Deps)))
	mux.Handle("GET /static/", staticFiles())
	if s.render.brand.CSS {
		mux.Handle("GET /brand.css", brandCSS(s.Options.Brand.Color, s.Options.Brand.CSS))
	}

	// Self-service flow pages and Hera's own forms.
	for _, k := range []kratos.Kind{kratos.Login, kratos.Registration, kratos.Recovery, kratos.Verification, kratos.Settings} {
		mux.Handle("GET /"+string(k), handleFlowPage(s, k))
	}
	mux.Handle("POST /recovery/start", sameOrigin(handleRecoveryStart(s)))
	mux.Handle("GET /error", handleErrorPage(s))
	mux.Handle("GET /language", handleLanguage(s))
	mux.Handle("GET /{$}", handleWelcome(s))
	mux.Handle("GET /sessions", handleSessions(s))
	mux.Handle("POST /sessions/revoke-others", sameOrigin(handleRevokeOthers(s)))
	mux.Handle("POST /sessions/{id}/revoke", sameOrigin(handleRevokeSession(s)))
	if s.Options.Account.Deletion {
		mux.Handle("GET /settings/delete", handleDeleteAccountPage(s))
		mux.Handle("POST /settings/delete", sameOrigin(handleDeleteAccount(s)))
		mux.Handle("GET /goodbye", handleGoodbye(s))
	}
	mux.Handle("GET /logout", handleLogoutPage(s))
	mux.Handle("POST /logout", sameOrigin(handleLogout(s)))

	// Hydra: login (above, with ?login_challenge=), consent, logout, errors.
	mux.Handle("GET /consent", handleConsent(s))
	mux.Handle("POST /consent", sameOrigin(handleConsentDecision(s)))
	mux.Handle("GET /oauth2/error", handleOAuth2Error(s))
	if s.Hydra != nil {
		mux.Handle("GET /apps", handleApps(s))
		mux.Handle("POST /apps/remove", sameOrigin(handleRemoveApp(s)))
	}
	if s.Hydra != nil && s.Options.OAuth2.TokenHookSecret != "" {
		// Called by Hydra, server to server: authenticated by its secret.
		mux.Handle("POST /oauth2/token-hook", handleTokenHook(s))
	}

	// Kratos API: Hera's submit endpoint, the flow JSON, and the proxy.
	mux.Handle("POST "+apiPrefix+"/{flow}/submit", sameOrigin(handleSubmit(s)))
	mux.Handle("GET "+apiPrefix+"/flows", handleFlowJSON(s))
	mux.Handle(apiPrefix+"/", s.proxy)

	mux.Handle("/", handleNotFound(s))
}
