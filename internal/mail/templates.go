package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/netip"
	"net/url"
	"strings"
	texttemplate "text/template"
	"unicode"

	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/outbox"
)

//go:embed templates/alert.html templates/alert.txt
var templateFS embed.FS

// TemplateConfig is what every alert mail shows besides the alert.
type TemplateConfig struct {
	Brand     string   // HERA_BRAND_NAME
	PublicURL *url.URL // HERA_PUBLIC_URL: the links start here
	Color     string   // HERA_BRAND_PRIMARY_COLOR (#rrggbb); "": Hera's
	// LocalesDir is HERA_LOCALES_DIR: its translations apply to mails too.
	LocalesDir      string
	DefaultLanguage string // HERA_DEFAULT_LANGUAGE
}

// defaultColor is Hera's own primary colour (internal/web/static/hera.css).
const defaultColor = "#2446c7"

// Templates renders alert mails. It is safe for concurrent use.
type Templates struct {
	cat   *i18n.Catalog
	cfg   TemplateConfig
	links links
	html  *htmltemplate.Template
	text  *texttemplate.Template
}

// NewTemplates reads the message catalogs (with HERA_LOCALES_DIR's) and
// parses the mail templates.
func NewTemplates(cfg TemplateConfig) (*Templates, error) {
	if cfg.PublicURL == nil {
		return nil, errors.New("mail: templates need HERA_PUBLIC_URL")
	}
	if cfg.Color == "" {
		cfg.Color = defaultColor
	}
	if cfg.DefaultLanguage == "" {
		cfg.DefaultLanguage = "en"
	}
	cat, err := i18n.Load(cfg.LocalesDir)
	if err != nil {
		return nil, err
	}
	h, err := htmltemplate.ParseFS(templateFS, "templates/alert.html")
	if err != nil {
		return nil, err
	}
	t, err := texttemplate.ParseFS(templateFS, "templates/alert.txt")
	if err != nil {
		return nil, err
	}
	return &Templates{cat: cat, cfg: cfg, links: newLinks(cfg.PublicURL), html: h, text: t}, nil
}

// view is one rendered mail's content, every string plain text: the HTML
// template escapes each.
type view struct {
	Lang, Brand, Color string
	Subject, Intro     string
	Details            []detail
	Advice             string
	Actions            []action
	Footer             string
}

type detail struct{ Label, Value string }

type action struct{ Label, URL string }

// Render writes a in its language as plain text and HTML. The message it
// returns has Kind, Lang, Subject, Text and HTML set; ID, To and Created
// are the caller's.
func (t *Templates) Render(a Alert) (outbox.Message, error) {
	if a.At.IsZero() {
		return outbox.Message{}, fmt.Errorf("mail: %s alert without a time", a.Kind)
	}
	lang := t.cat.Negotiate(nil, a.Lang, "", t.cfg.DefaultLanguage)
	tr := func(key string, args map[string]any) string { return t.cat.T(lang, key, args) }
	brand := map[string]any{"brand": t.cfg.Brand}
	v := view{Lang: lang, Brand: t.cfg.Brand, Color: t.cfg.Color, Footer: tr("hera.mail.footer", brand)}

	recover := action{tr("hera.mail.action.recover", nil), t.links.recovery}
	activity := action{tr("hera.mail.action.activity", nil), t.links.activity}
	v.Actions = []action{recover, activity}
	v.Advice = tr("hera.mail.advice.change", nil)
	subject := "hera.mail.subject." + string(a.Kind)
	switch a.Kind {
	case NewSignIn:
		v.Intro = tr("hera.mail.new_sign_in", nil)
		v.Advice = tr("hera.mail.advice.sign_in", nil)
	case PasswordChanged:
		v.Intro = tr("hera.mail.password_changed", nil)
	case TOTPChanged:
		if a.Detail != "added" && a.Detail != "removed" {
			return outbox.Message{}, fmt.Errorf("mail: totp_changed detail %q: want added or removed", a.Detail)
		}
		v.Intro = tr("hera.mail.totp."+a.Detail, nil)
	case PasskeyChanged:
		what := "passkey"
		switch a.Method {
		case "passkey":
		case "webauthn":
			what = "security_key"
		default:
			return outbox.Message{}, fmt.Errorf("mail: passkey_changed method %q: want passkey or webauthn", a.Method)
		}
		if a.Detail != "added" && a.Detail != "removed" && a.Detail != "changed" {
			return outbox.Message{}, fmt.Errorf("mail: passkey_changed detail %q: want added, removed or changed", a.Detail)
		}
		subject = "hera.mail.subject." + what + "_changed"
		v.Intro = tr("hera.mail."+what+"."+a.Detail, nil)
	case BackupCodesChanged:
		if a.Detail == "removed" {
			v.Intro = tr("hera.mail.backup_codes.removed", nil)
		} else {
			v.Intro = tr("hera.mail.backup_codes.created", nil)
		}
	case AddressChanged:
		v.Intro = tr("hera.mail.address_changed", nil)
	case Locked:
		if a.Until.IsZero() {
			return outbox.Message{}, errors.New("mail: locked alert without the end of the lock")
		}
		v.Intro = tr("hera.mail.locked", map[string]any{"until": a.Until})
		v.Advice = tr("hera.mail.advice.locked", nil)
	case AccountDeleted:
		// The account is gone: nothing to recover, no activity to see.
		v.Intro = tr("hera.mail.account_deleted", nil)
		v.Advice = tr("hera.mail.advice.deleted", brand)
		v.Actions = nil
	default:
		return outbox.Message{}, fmt.Errorf("mail: unknown alert kind %q", a.Kind)
	}
	v.Subject = tr(subject, brand)
	v.Details = append(v.Details, detail{tr("hera.mail.label.when", nil), t.cat.FormatTime(lang, a.At, "datetime")})
	if b := oneLine(a.Browser, maxBrowser); b != "" {
		v.Details = append(v.Details, detail{tr("hera.mail.label.browser", nil), b})
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(a.IP)); err == nil {
		v.Details = append(v.Details, detail{tr("hera.mail.label.ip", nil), ip.Unmap().String()})
	}

	var text, html bytes.Buffer
	if err := t.text.Execute(&text, v); err != nil {
		return outbox.Message{}, fmt.Errorf("mail: %s text: %w", a.Kind, err)
	}
	if err := t.html.Execute(&html, v); err != nil {
		return outbox.Message{}, fmt.Errorf("mail: %s HTML: %w", a.Kind, err)
	}
	return outbox.Message{Kind: string(a.Kind), Lang: lang, Subject: v.Subject, Text: text.String(), HTML: html.String()}, nil
}

// maxBrowser bounds the browser's description, in characters.
const maxBrowser = 120

// oneLine makes a description safe to show as one line of text: control
// characters (line breaks that could forge lines of the mail among them)
// become spaces, runs of space one, format characters (bidi overrides that
// would reorder what is shown, zero-width ones) go, and it is cut to max
// characters.
func oneLine(s string, max int) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range strings.TrimSpace(s) {
		if unicode.Is(unicode.Cf, r) {
			continue
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			space = true
			continue
		}
		if n == max {
			b.WriteRune('…')
			break
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}
