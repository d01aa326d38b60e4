package config

import (
	"errors"
	"os"
	"strings"
)

// Brand: language, name, logo, colours and legal links on every page.
func brandVars() []Var {
	return []Var{
		{Name: "HERA_DEFAULT_LANGUAGE", Default: "en", Help: "language when neither Hydra's ui_locales, the user's choice nor Accept-Language picks one: en, de, fr, es, or a language of HERA_LOCALES_DIR",
			set: func(c *Config, v string) error {
				if len(v) < 2 || len(v) > 3 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz") != "" {
					return errors.New("want en, de, fr, es, or the lower-case code of a language of HERA_LOCALES_DIR")
				}
				c.Brand.DefaultLanguage = v
				return nil
			}},
		{Name: "HERA_LOCALES_DIR", Help: "directory of <lang>.json translation files read at start: they override texts of the shipped languages and add languages (docs/languages-and-branding.md)",
			set: func(c *Config, v string) error {
				fi, err := os.Stat(v)
				if err != nil {
					return err
				}
				if !fi.IsDir() {
					return errors.New("not a directory")
				}
				c.Brand.LocalesDir = v
				return nil
			}},
		{Name: "HERA_BRAND_NAME", Default: "Hera", Help: "product name shown in the header and page titles",
			set: func(c *Config, v string) error {
				if len(v) > 80 {
					return errors.New("at most 80 characters")
				}
				c.Brand.Name = v
				return nil
			}},
		{Name: "HERA_BRAND_ASSETS_DIR", Help: "directory of brand assets (images, icons, fonts; at most 64 files of 1 MiB, 8 MiB in all) read at start and served under /brand/ with content-hashed URLs; /brand/<file> in HERA_BRAND_LOGO_URL, HERA_BRAND_FAVICON_URL and HERA_SOCIAL_LOGOS names one (docs/languages-and-branding.md)",
			set: func(c *Config, v string) error {
				fi, err := os.Stat(v)
				if err != nil {
					return err
				}
				if !fi.IsDir() {
					return errors.New("not a directory")
				}
				c.Brand.AssetsDir = v
				return nil
			}},
		{Name: "HERA_BRAND_LOGO_URL", Help: "logo image shown in the header: an http(s) URL, a path on Hera, or /brand/<file> of HERA_BRAND_ASSETS_DIR",
			set: func(c *Config, v string) (err error) { c.Brand.LogoURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_BRAND_FAVICON_URL", Help: "favicon: an http(s) URL, a path on Hera, or /brand/<file> of HERA_BRAND_ASSETS_DIR",
			set: func(c *Config, v string) (err error) { c.Brand.FaviconURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_BRAND_PRIMARY_COLOR", Help: "brand colour as #rrggbb for buttons and links, darkened (light scheme) or lightened (dark scheme) for each use as far as WCAG AA contrast needs (docs/languages-and-branding.md)",
			set: func(c *Config, v string) error {
				if len(v) != 7 || v[0] != '#' || strings.Trim(strings.ToLower(v[1:]), "0123456789abcdef") != "" {
					return errors.New("want #rrggbb")
				}
				c.Brand.Color = strings.ToLower(v)
				return nil
			}},
		{Name: "HERA_BRAND_PRIVACY_URL", Help: "link to your privacy policy, in every page's footer",
			set: func(c *Config, v string) (err error) { c.Brand.PrivacyURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_BRAND_TERMS_URL", Help: "link to your terms of service, in every page's footer",
			set: func(c *Config, v string) (err error) { c.Brand.TermsURL, err = parseAssetURL(v); return err }},
		{Name: "HERA_SOCIAL_LOGOS", Help: "logos of social sign-in providers as comma-separated id=url pairs (Kratos's oidc provider id; an https URL, a path on Hera, or /brand/<file> of HERA_BRAND_ASSETS_DIR), e.g. acme=https://cdn.example.com/acme.svg; google, github, gitlab, microsoft and apple have built-in logos, other providers a neutral icon",
			set: func(c *Config, v string) (err error) { c.Brand.SocialLogos, err = parseSocialLogos(v); return err }},
		{Name: "HERA_BRAND_CSS_FILE", Help: "path of an extra CSS file served after Hera's own (read at start)",
			set: func(c *Config, v string) error {
				b, err := os.ReadFile(v)
				if err != nil {
					return err
				}
				if len(b) > 256<<10 {
					return errors.New("larger than 256 KiB")
				}
				if strings.Contains(strings.ToLower(string(b)), "</style") {
					return errors.New("must be plain CSS")
				}
				c.Brand.CSS = string(b)
				return nil
			}},
	}
}
