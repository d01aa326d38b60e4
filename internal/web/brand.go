package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/brand"
	"github.com/heraproject/hera/internal/web/view"
)

// Cache lifetimes of branding. A versioned URL (its content's hash in it)
// never changes content, so browsers keep it a year without asking again;
// a plain URL may change at the next start, so it is kept a few minutes
// and then revalidated with its ETag.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheShort     = "public, max-age=300"
)

// brandFiles are the branding files Hera serves, built at start.
type brandFiles struct {
	css     []byte // /brand.css; nil when there is none
	cssHash string
	assets  *brand.Assets // /brand/
}

// loadBrand builds the pages' branding and the files behind it: the
// stylesheet, and the assets directory, read and checked, its files named
// by settings ("/brand/<file>") turned into their versioned URLs under
// base.
func loadBrand(c BrandOptions, base string) (view.Brand, *brandFiles, error) {
	b := view.Brand{Name: c.Name, PrivacyURL: c.PrivacyURL, TermsURL: c.TermsURL}
	if b.Name == "" {
		b.Name = "Hera"
	}
	f := &brandFiles{}
	var err error
	if c.Color != "" || c.CSS != "" {
		if f.css, err = brand.Stylesheet(c.Color, c.CSS); err != nil {
			return b, nil, err
		}
		f.cssHash = brand.ContentHash(f.css)
		b.CSSPath = "/brand.css?v=" + f.cssHash
	}
	if f.assets, err = brand.LoadAssets(c.AssetsDir); err != nil {
		return b, nil, fmt.Errorf("brand assets (HERA_BRAND_ASSETS_DIR=%s):\n%w", c.AssetsDir, err)
	}
	var errs []error
	resolve := func(setting, v string) string {
		name, ok := strings.CutPrefix(v, "/brand/")
		if !ok {
			return v
		}
		a := f.assets.File(name)
		switch {
		case a == nil:
			errs = append(errs, fmt.Errorf("%s=%q: no file %q in HERA_BRAND_ASSETS_DIR", setting, v, name))
		case !strings.HasPrefix(a.ContentType, "image/"):
			errs = append(errs, fmt.Errorf("%s=%q: not an image", setting, v))
		default:
			return base + "/brand/" + a.Versioned
		}
		return ""
	}
	b.LogoURL = resolve("HERA_BRAND_LOGO_URL", c.LogoURL)
	b.FaviconURL = resolve("HERA_BRAND_FAVICON_URL", c.FaviconURL)
	if c.SocialLogos != nil {
		b.SocialLogos = make(map[string]string, len(c.SocialLogos))
		for id, v := range c.SocialLogos {
			b.SocialLogos[id] = resolve("HERA_SOCIAL_LOGOS "+id, v)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return b, nil, err
	}
	return b, f, nil
}

// handleBrandCSS serves /brand.css. Pages link it as /brand.css?v=<hash>:
// that URL is cached for good, and a new stylesheet gets a new URL. Any
// other URL (no v, an old v from a page rendered before a restart) gets
// the current stylesheet, cached briefly.
func handleBrandCSS(body []byte, hash string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveVersioned(w, r, "text/css; charset=utf-8", body, hash, r.URL.Query().Get("v") == hash)
	})
}

// handleBrandAsset serves /brand/{name}: an asset of HERA_BRAND_ASSETS_DIR
// (brand.Assets.Lookup), sandboxed and never sniffed as another type.
func handleBrandAsset(a *brand.Assets, notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, current := a.Lookup(r.PathValue("name"))
		if f == nil {
			notFound.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", brand.AssetCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		serveVersioned(w, r, f.ContentType, f.Body, f.Hash, current)
	})
}

// serveVersioned writes a branding file with its ETag, cached for good
// when the URL names its version, else briefly; conditional and range
// requests are answered by http.ServeContent.
func serveVersioned(w http.ResponseWriter, r *http.Request, ctype string, body []byte, hash string, immutable bool) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("ETag", `"`+hash+`"`)
	if immutable {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheShort)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
