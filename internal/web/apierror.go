package web

import "net/http"

// writeAPIError answers in Kratos's error shape,
// {"error":{"id","code","status","message"}}, so that API clients (Ory's
// SDKs among them) read Hera's refusals as they read Kratos's. id is Hera's
// own ("hera_locked", "hera_captcha", …) where Hera refused. message is for
// people and says nothing of Hera's internals.
func writeAPIError(w http.ResponseWriter, status int, id, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"id": id, "code": status, "status": http.StatusText(status), "message": msg,
	}})
}
