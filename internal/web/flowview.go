package web

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/web/view"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/heraproject/hera/internal/kratos"
)

// CaptchaView renders a captcha widget: the captcha package's own.
type CaptchaView = captcha.Widget

// groupRank orders method groups on single-form pages: shared fields
// first, then passwords, codes and second factors, then the methods that
// need JavaScript or another site.
func groupRank(g string) int {
	switch g {
	case "default":
		return 0
	case "identifier_first":
		return 1
	case "profile":
		return 2
	case "password":
		return 3
	case "code", "link":
		return 4
	case "totp":
		return 5
	case "lookup_secret":
		return 6
	case "passkey":
		return 7
	case "webauthn":
		return 8
	case "oidc", "saml":
		return 9
	case "captcha":
		return 10
	}
	return 11
}

// groupHeading names a settings section.
func groupHeading(g string) string {
	switch g {
	case "profile":
		return "Profile"
	case "password":
		return "Password"
	case "totp":
		return "Authenticator app"
	case "lookup_secret":
		return "Backup recovery codes"
	case "webauthn":
		return "Security keys"
	case "passkey":
		return "Passkeys"
	case "oidc", "saml":
		return "Linked accounts"
	case "code":
		return "One-time codes"
	}
	r, n := utf8.DecodeRuneInString(g)
	if n == 0 {
		return ""
	}
	return string(unicode.ToUpper(r)) + g[n:]
}

// viewContext is what the view model needs besides the flow.
type viewContext struct {
	submitPath   string // Hera's submit URL, with ?flow=
	kratosPrefix string // browser-facing URL prefix of the Kratos proxy, for script srcs
}

// newFlowPage turns a Kratos flow into its view model, with every message,
// label and text in the request's language (Kratos's English text where
// the catalog has no entry). f itself is not changed.
func newFlowPage(kind kratos.Kind, f *kratos.Flow, vc viewContext, t translator) *view.FlowPage {
	p := &view.FlowPage{Kind: kind, FlowID: f.ID}
	titleKey, introKey := flowTitle(kind, f)
	p.Title = t.T(titleKey)
	if introKey != "" {
		p.Intro = t.T(introKey)
	}
	if len(f.UI.Messages) > 0 {
		p.Messages = make([]view.Alert, 0, len(f.UI.Messages))
	}
	for i, m := range f.UI.Messages {
		p.Messages = append(p.Messages, alert("flow-msg-"+strconv.Itoa(i), m, t))
	}
	if r := f.OAuth2LoginRequest; r != nil && r.Client.ClientID != "" {
		name := r.Client.ClientName
		if name == "" {
			name = r.Client.ClientID
		}
		p.Client = &view.ClientView{Name: name, LogoURI: safeHTTPURL(r.Client.LogoURI), URI: safeHTTPURL(r.Client.ClientURI)}
	}

	// Scripts are not form items: Kratos's WebAuthn script is loaded once,
	// same-origin through the proxy, and driven by Hera's own script. The
	// other nodes are used through pointers: a Node is large.
	nodes := make([]*kratos.Node, 0, len(f.UI.Nodes))
	for i := range f.UI.Nodes {
		n := &f.UI.Nodes[i]
		if n.Type == "script" {
			if strings.HasPrefix(n.Attributes.Src, vc.kratosPrefix) && !hasScript(p.Scripts, n.Attributes.Src) {
				p.Scripts = append(p.Scripts, view.Script{Src: n.Attributes.Src, Integrity: n.Attributes.Integ,
					CrossOrigin: n.Attributes.Cross, ReferrerPolicy: n.Attributes.Refpol})
			}
			continue
		}
		nodes = append(nodes, n)
	}
	b := &itemBuilder{kind: kind, page: p, t: t, used: make(map[string]int, len(nodes))}
	if kind == kratos.Login {
		b.anotherAccount = anotherAccountHref(f)
		b.passkeyAutofill = passkeyAutofill(nodes)
	}

	if kind == kratos.Settings || (kind == kratos.Login && f.RequestedAAL == "aal2") {
		// One form per method: each section submits on its own (and Enter
		// in a second factor's field submits that factor). The shared
		// nodes (CSRF token) go into every form.
		var shared []*kratos.Node
		var order []string
		for _, n := range nodes {
			if n.Group == "default" {
				shared = append(shared, n)
				continue
			}
			if !slices.Contains(order, n.Group) {
				order = append(order, n.Group)
			}
		}
		sort.SliceStable(order, func(i, j int) bool { return groupRank(order[i]) < groupRank(order[j]) })
		p.Forms = make([]view.Form, 0, len(order))
		p.Sections = kind == kratos.Settings
		for _, g := range order {
			form := view.Form{ID: "form-" + g, Action: vc.submitPath, Group: g, Heading: localGroupHeading(g, t)}
			b.start(form.ID, len(shared)+countGroup(nodes, g))
			for _, n := range shared {
				b.add(n)
			}
			for _, n := range nodes {
				if n.Group == g {
					b.add(n)
				}
			}
			form.Items = b.items
			p.Forms = append(p.Forms, form)
		}
		return p
	}

	// Other flows: one form. Methods are ordered by group; buttons that go
	// back a step come last.
	sort.SliceStable(nodes, func(i, j int) bool {
		return rankNode(nodes[i]) < rankNode(nodes[j])
	})
	form := view.Form{ID: "form-" + string(kind), Action: vc.submitPath, Group: "all"}
	b.start(form.ID, len(nodes))
	for _, n := range nodes {
		b.add(n)
	}
	form.Items = b.items
	p.Forms = []view.Form{form}
	return p
}

func rankNode(n *kratos.Node) int {
	if n.Attributes.Name == "screen" {
		return 1000
	}
	r := groupRank(n.Group) * 10
	if isResend(n) {
		// After its method's own submit button, which Kratos sometimes
		// sends later: the first submit button of a form is the one Enter
		// in a field presses, and it must not send another code.
		r += 5
	}
	return r
}

// isResend reports whether n is a code method's "send the code again"
// button: resend=code (login, registration) or email=<address> (recovery,
// verification).
func isResend(n *kratos.Node) bool {
	a := n.Attributes
	return n.Type == "input" && a.Type == "submit" && (a.Name == "resend" || a.Name == "email")
}

func hasScript(ss []view.Script, src string) bool {
	for _, s := range ss {
		if s.Src == src {
			return true
		}
	}
	return false
}

// anotherAccountHref starts a fresh login flow, keeping return_to and the
// OAuth2 login challenge: identifier-first sign-in's way back to its first
// step.
func anotherAccountHref(f *kratos.Flow) string {
	q := url.Values{}
	if f.ReturnTo != "" {
		q.Set("return_to", f.ReturnTo)
	}
	if f.OAuth2LoginChallenge != "" {
		q.Set("login_challenge", f.OAuth2LoginChallenge)
	}
	if len(q) == 0 {
		return "/login"
	}
	return "/login?" + q.Encode()
}

// itemBuilder converts nodes to the items of one form after another. The
// first submit button of a form is its primary action; later ones skip
// browser validation, since they submit another method whose required
// fields differ. Element IDs are unique across the page.
type itemBuilder struct {
	kind       kratos.Kind
	page       *view.FlowPage
	t          translator
	used       map[string]int
	formID     string
	items      []view.Item
	seenSubmit bool
	// anotherAccount is where "Use another account" leads (login flows).
	anotherAccount string
	// passkeyAutofill: Kratos's script offers passkeys in the identifier
	// field's autofill (conditional mediation), which browsers do only for
	// a field marked "username webauthn".
	passkeyAutofill bool
}

// passkeyAutofill reports whether a login flow starts passkey autofill:
// its passkey_login node calls Kratos's oryPasskeyLoginAutocompleteInit on
// load. Kratos marks the one-step form's identifier "username webauthn"
// itself (passkey_login.go), but not identifier-first's first step, which
// starts the same autofill.
func passkeyAutofill(nodes []*kratos.Node) bool {
	for _, n := range nodes {
		if n.Group == "passkey" && n.Attributes.Name == "passkey_login" && n.Attributes.OnLoadTrigger == "oryPasskeyLoginAutocompleteInit" {
			return true
		}
	}
	return false
}

// start begins the next form, of about n items (an Item is large: grown by
// doubling, the slice was a quarter of a page view's allocated bytes).
func (b *itemBuilder) start(formID string, n int) {
	b.formID, b.items, b.seenSubmit = formID, make([]view.Item, 0, n), false
}

func countGroup(nodes []*kratos.Node, group string) int {
	n := 0
	for _, nd := range nodes {
		if nd.Group == group {
			n++
		}
	}
	return n
}

// msg is a Kratos text in the request's language.
func (b *itemBuilder) msg(m *kratos.Message) string {
	if m == nil {
		return ""
	}
	return b.t.Msg(*m)
}

// add appends the item of node n, if it shows as one.
func (b *itemBuilder) add(n *kratos.Node) {
	a := &n.Attributes
	it := view.Item{Name: a.Name, Disabled: a.Disabled}
	switch n.Type {
	case "input":
		it.ID = b.id(a.Name)
		it.Label = b.msg(n.Meta.Label)
		if b.kind == kratos.Settings && n.Group == "password" && a.Name == "password" && n.Meta.Label != nil && n.Meta.Label.ID == msgPassword {
			// Under the section's heading "Password": which one.
			it.Label = b.t.T("hera.settings.new_password")
		}
		it.Value = rawString(a.Value)
		it.Required = a.Required
		it.Pattern = a.Pattern
		it.MaxLength = a.MaxLength
		it.Autocomplete = autocomplete(b.kind, a)
		if b.passkeyAutofill && a.Name == "identifier" && a.Autocomplete == "" && a.Type != "hidden" {
			it.Autocomplete = "username webauthn"
		}
		switch {
		case len(a.Options) > 0:
			it.Kind = "select"
			it.Options = make([]view.SelectOption, 0, len(a.Options))
			for i := range a.Options {
				o := &a.Options[i]
				v := rawString(o.Value)
				l := v
				if o.Label != nil && o.Label.Text != "" {
					l = b.msg(o.Label)
				}
				it.Options = append(it.Options, view.SelectOption{Value: v, Label: l, Selected: v == it.Value})
			}
		case a.Type == "hidden":
			it.Kind = "hidden"
			it.OnLoad = a.OnLoadTrigger
		case a.Type == "checkbox":
			it.Kind = "checkbox"
			it.Checked = string(a.Value) == "true"
			it.Value = "true"
		case a.Type == "submit":
			it.Kind = "submit"
			if l := b.actionLabel(n, it.Value); l != "" {
				it.Label = l
			}
			if it.Label == "" {
				it.Label = it.Value
			}
			it.Primary = !b.seenSubmit && a.Name == "method"
			it.NoValidate = b.seenSubmit || a.Name != "method"
			b.seenSubmit = true
		case a.Type == "button" && a.OnClickTrigger != "":
			it.Kind = "trigger"
			it.Trigger = a.OnClickTrigger
			it.OnLoad = a.OnLoadTrigger
			b.page.NeedsJS = true
		case a.Type == "button":
			// A plain button without a trigger does nothing: submit it.
			it.Kind = "submit"
			it.NoValidate = true
			if it.Label == "" {
				it.Label = it.Value
			}
		default:
			it.Kind = "input"
			it.Type = inputType(a.Type)
		}
	case "img":
		it.Src = safeImageSrc(a.Src)
		if it.Src == "" {
			return
		}
		it.Kind = "img"
		it.ID = b.id(a.ID)
		it.Width, it.Height = a.Width, a.Height
		it.Label = b.msg(n.Meta.Label)
		it.Alt = b.t.T("hera.flow.qr_code")
	case "a":
		it.Href = safeHTTPURL(a.Href)
		if it.Href == "" {
			return
		}
		it.Kind = "a"
		it.ID = b.id(a.ID)
		it.Text = b.msg(a.Title)
	case "text":
		it.Kind = "text"
		it.ID = b.id(a.ID)
		it.Label = b.msg(n.Meta.Label)
		if a.ID == "totp_secret_key" {
			// The QR code is the way in; the secret to type is the
			// fallback, shown on request.
			it.Disclose = b.t.T("hera.settings.totp_manual")
		}
		if a.Text != nil {
			if secrets := lookupSecrets(a.Text); secrets != nil {
				it.Kind, it.Secrets, it.Text = "secrets", secrets, a.Text.Text
			} else {
				it.Text = b.msg(a.Text)
			}
		}
	case "div":
		it.Kind = "div"
		it.ID = b.id(a.ID)
		it.Class = a.Class
	default:
		return
	}
	if len(n.Messages) > 0 {
		it.Messages = make([]view.Alert, 0, len(n.Messages))
	}
	for i, m := range n.Messages {
		al := alert(it.ID+"-msg-"+strconv.Itoa(i), m, b.t)
		it.Messages = append(it.Messages, al)
		if it.DescribedBy != "" {
			it.DescribedBy += " "
		}
		it.DescribedBy += al.ID
		if m.Type == "error" {
			it.Invalid = true
		}
	}
	b.items = append(b.items, it)
	if it.Kind == "hidden" && it.Name == "identifier" && it.Value != "" && n.Group == "identifier_first" && b.kind == kratos.Login {
		// Identifier-first sign-in past its first step: Kratos hid the
		// identifier. Show whose sign-in this is, with the way back to the
		// first step.
		b.items = append(b.items,
			view.Item{Kind: "account", ID: b.id("account"), Value: it.Value, Href: b.anotherAccount, Text: b.t.T("hera.flow.use_another_account")})
	}
}

// Kratos's labels that Hera puts in its own words where they are too vague.
const (
	msgSignUp   = 1040001 // "Sign up"
	msgPassword = 1070001 // "Password"
	msgContinue = 1040003 // "Continue"
	msgSave     = 1070003 // "Save"
)

// actionLabel is the label of a submit button that says what it does where
// Kratos's does not, or "": the first step of a two-step sign-up only moves
// on to the second ("Continue", not "Sign up"), and each settings section's
// "Save" names its action ("Save profile", "Change password").
func (b *itemBuilder) actionLabel(n *kratos.Node, value string) string {
	l := n.Meta.Label
	if l == nil || n.Attributes.Name != "method" || value != n.Group {
		return ""
	}
	switch {
	case b.kind == kratos.Registration && n.Group == "profile" && l.ID == msgSignUp:
		return b.msg(&kratos.Message{ID: msgContinue, Text: "Continue", Type: "info"})
	case b.kind == kratos.Settings && l.ID == msgSave:
		key := "hera.settings.save." + n.Group
		if s := b.t.T(key); s != key {
			return s
		}
	}
	return ""
}

// id is the element ID of a node named name: the form's ID and the name
// with characters an ID cannot hold replaced, numbered if already used.
func (b *itemBuilder) id(name string) string {
	id := make([]byte, 0, len(b.formID)+1+max(len(name), 4))
	id = append(id, b.formID...)
	id = append(id, '-')
	if name == "" {
		id = append(id, "node"...)
	}
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			id = append(id, byte(r))
		default:
			id = append(id, '-')
		}
		i += size
	}
	return uniqueID(b.used, string(id))
}

// lookupSecrets returns the codes of a lookup-secret text node, or nil.
func lookupSecrets(m *kratos.Message) []string {
	raw, ok := m.Context["secrets"].([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		if sm, ok := s.(map[string]any); ok {
			if t, ok := sm["text"].(string); ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// alert is a Kratos message as the page shows it, in the request's
// language.
func alert(id string, m kratos.Message, t translator) view.Alert {
	typ := m.Type
	if typ != "error" && typ != "success" {
		typ = "info"
	}
	return view.Alert{ID: id, Type: typ, Text: t.Msg(m)}
}

// rawString renders a JSON value as a form value.
func rawString(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	if n := len(v); n >= 2 && v[0] == '"' && v[n-1] == '"' && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		return string(v[1 : n-1]) // a string without escapes: its text
	}
	if v[0] == '"' {
		// v was checked by the decoder, so the only error left is invalid
		// UTF-8, which comes back replaced as encoding/json replaces it.
		if s, err := jsontext.AppendUnquote(nil, v); err == nil || !utf8.Valid(v) {
			return string(s)
		}
	}
	return string(v)
}

func inputType(t string) string {
	switch t {
	case "text", "password", "number", "email", "tel", "datetime-local", "date", "url":
		return t
	}
	return "text"
}

// autocomplete fills in what browsers and password managers need when
// Kratos leaves it out.
func autocomplete(kind kratos.Kind, a *kratos.Attributes) string {
	if a.Autocomplete != "" {
		return a.Autocomplete
	}
	switch a.Name {
	case "identifier":
		return "username"
	case "password":
		if kind == kratos.Login {
			return "current-password"
		}
		return "new-password"
	case "code", "totp_code":
		return "one-time-code"
	case "traits.email", "email":
		return "email"
	case "traits.name.first":
		return "given-name"
	case "traits.name.last":
		return "family-name"
	case "traits.phone":
		return "tel"
	}
	return ""
}

func uniqueID(used map[string]int, id string) string {
	n := used[id]
	used[id] = n + 1
	if n == 0 {
		return id
	}
	return id + "-" + strconv.Itoa(n+1)
}

// safeHTTPURL and safeImageSrc are the view's own URL checks.
var (
	safeHTTPURL  = view.SafeHTTPURL
	safeImageSrc = view.SafeImageSrc
)

// flowTitle returns the catalog keys of the page's title and intro.
func flowTitle(kind kratos.Kind, f *kratos.Flow) (title, intro string) {
	if kind == kratos.Login {
		switch {
		case f.RequestedAAL == "aal2":
			return "hera.login.aal2.title", "hera.login.aal2.intro"
		case f.Refresh:
			return "hera.login.refresh.title", "hera.login.refresh.intro"
		}
	}
	return "hera." + string(kind) + ".title", ""
}

// localGroupHeading names a settings section in the request's language.
func localGroupHeading(g string, t translator) string {
	key := "hera.group." + g
	if h := t.T(key); h != key {
		return h
	}
	return groupHeading(g)
}
