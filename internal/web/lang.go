package web

import (
	"net/http"
	"strings"

	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// langCookie remembers the language a user chose with the switcher. It is a
// preference, not a session.
const langCookie = "hera_lang"

// translator translates for one request.
type translator struct {
	lang string
	c    *i18n.Catalog
}

// T returns Hera's string key, with args given as name, value pairs.
func (t translator) T(key string, kv ...any) string {
	var args map[string]any
	if len(kv) > 1 {
		args = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok {
				args[k] = kv[i+1]
			}
		}
	}
	return t.c.T(t.lang, key, args)
}

// H is T for strings with arguments that are markup (html/template.HTML,
// inserted as is; the others escaped): the result is markup.
func (t translator) H(key string, kv ...any) string {
	args := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			args[k] = kv[i+1]
		}
	}
	return string(t.c.HTML(t.lang, key, args))
}

// Msg renders a Kratos message in the request's language, falling back to
// Kratos's own text.
func (t translator) Msg(m kratos.Message) string {
	return t.c.Message(t.lang, m.ID, m.Text, m.Context)
}

// translator picks the request's language: Hydra's ui_locales (when the page serves
// an OAuth2 login), the user's explicit choice, Accept-Language, the default.
func (s *server) translator(r *http.Request, uiLocales ...string) translator {
	explicit := ""
	if c, err := r.Cookie(langCookie); err == nil {
		explicit = c.Value
	}
	return translator{lang: s.catalog.Negotiate(uiLocales, explicit, r.Header.Get("Accept-Language"), s.Options.DefaultLanguage), c: s.catalog}
}

// langSwitcher builds the switcher of every language once; pages share the
// slices and never change them.
func langSwitcher(c *i18n.Catalog) func(cur string) []view.LangOption {
	langs := c.Languages()
	byCur := make(map[string][]view.LangOption, len(langs)+1)
	for _, cur := range append([]string{""}, langs...) { // "": none is current

		opts := make([]view.LangOption, 0, len(langs))
		for _, l := range langs {
			opts = append(opts, view.LangOption{Code: l, Name: c.T(l, "hera.language.name", nil), Current: l == cur})
		}
		byCur[cur] = opts
	}
	return func(cur string) []view.LangOption {
		if opts, ok := byCur[cur]; ok {
			return opts
		}
		return byCur[""]
	}
}

// handleLanguage is the switcher's target: GET /language?lang=de&next=/login?flow=…
// It remembers the choice for a year and goes back to the page.
func handleLanguage(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		lang := s.catalog.Negotiate(nil, q.Get("lang"), "", s.Options.DefaultLanguage)
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: s.cookiePath(), MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: s.Options.PublicURL.Scheme == "https", SameSite: http.SameSiteLaxMode})
		// next is a path from Hera's root (the page the switcher was on).
		next := q.Get("next")
		if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
			next = "/"
		}
		if _, ok := s.redirects.Allowed(next); !ok {
			next = "/"
		}
		http.Redirect(w, r, s.url(next), http.StatusSeeOther)
	})
}
