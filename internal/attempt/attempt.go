// Package attempt decides what a self-service submission asks Kratos to do:
// which method judges it, which account it names, whether it carries a
// secret a script could guess, and where Kratos may send a code because of
// it. It is the one place that answers these questions, for Hera's own
// forms and for direct submissions through the proxy alike.
//
// The answers mirror Kratos v1.3.1's decoders (selfservice/strategy/*,
// ory/x/decoderx): the password method reads the identifier from
// "identifier" or the legacy "password_identifier"; the code method sends
// to cmp.Or(identifier, address) but checks the code against
// cmp.Or(address, identifier), and whether a submission sends or checks
// depends on the flow's state, not on the fields; recovery sends when an
// e-mail is present and checks a code otherwise; JSON member names match
// case-insensitively. Rather than follow every such rule at judgement
// time, Hera refuses what is ambiguous and forwards a canonical body —
// only the fields the method accepts, each once — so Kratos reads exactly
// what Hera keyed the checks on.
package attempt

import (
	"net/url"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/heraproject/hera/internal/kratos"
)

// Secret is what an attempt carries that a script could guess.
type Secret int

// The secrets.
const (
	NoSecret Secret = iota
	Password
	OneTimeCode // a code Kratos sent (sign-in, registration, recovery, verification)
	TOTP
	BackupCode
)

func (s Secret) String() string {
	return [...]string{"none", "password", "code", "totp", "backup_code"}[s]
}

// Attempt is a classified submission.
type Attempt struct {
	Kind   kratos.Kind
	Method string
	// Account is the account a first-factor sign-in names, in the form
	// Kratos's method looks it up by (kratos.PasswordIdentifier for
	// passwords and security keys, kratos.Address for one-time codes); ""
	// if none. Counters are keyed on it, so spellings Kratos resolves to
	// one account count as one.
	Account string
	// Secret is what Kratos will judge.
	Secret Secret
	// SecondFactor: judged against the identity of the session the
	// submission arrives on (aal2), not against a named account.
	SecondFactor bool
	// Unguessable: the credential is a signed assertion (passkey, security
	// key, ID token) that no script can guess.
	Unguessable bool
	// Sends lists the addresses Kratos may send a code or link to, in the
	// form Kratos sends to (kratos.Address).
	Sends []string
	// SendsToSession: Kratos may send a code to the addresses of the
	// session's identity (a second-factor code without an address).
	SendsToSession bool
	// Change is what a settings submission does to a second factor, a
	// security key or a passkey: "added" (or confirmed, for backup codes),
	// "removed", or "" (anything else), for the account's events.
	Change string
	// Fields are the submission's string fields as received, for Hera's
	// own (the captcha token); they never reach Kratos.
	Fields url.Values

	body        []byte
	contentType string
}

// Body is the canonical body to forward.
func (a *Attempt) Body() []byte { return a.body }

// ContentType is the forwarded body's: the one the submission came with.
func (a *Attempt) ContentType() string { return a.contentType }

// Flow is what Hera knows of the flow a submission goes to, when NeedsFlow
// says the fields alone do not tell.
type Flow struct {
	Known bool
	// Refused: Kratos would not show this client the flow (no or another
	// session, expired, unknown), so it will refuse the submission too and
	// send nothing. Only settings flows use it: without it, anyone could
	// spend an address's send quota with submissions Kratos turns away.
	Refused      bool
	State        string // choose_method, sent_email, passed_challenge
	RequestedAAL string // aal1, aal2
	// Traits are the identity's current traits (settings flows).
	Traits jsontext.Value
}

// Schema names the traits of the identity schemas that hold addresses
// Kratos sends codes to (code identifiers, verification and recovery
// addresses), as dotted paths below traits (e.g. "email").
type Schema struct {
	Addresses []string
}

// DefaultSchema is what Hera assumes when it cannot read the schemas.
var DefaultSchema = Schema{Addresses: []string{"email"}}

// fields lists, per flow and method, what Kratos v1.3.1 decodes (the
// update*FlowWith*Method payloads). "method" and "csrf_token" are always
// accepted. Anything else is dropped before forwarding.
var fields = map[kratos.Kind]map[string][]string{
	kratos.Login: {
		"password":         {"identifier", "password", "transient_payload"},
		"code":             {"identifier", "address", "code", "resend", "transient_payload"},
		"totp":             {"totp_code", "transient_payload"},
		"lookup_secret":    {"lookup_secret"},
		"webauthn":         {"identifier", "webauthn_login", "transient_payload"},
		"passkey":          {"passkey_login"},
		"identifier_first": {"identifier", "transient_payload"},
		"oidc":             {"provider", "traits", "upstream_parameters", "id_token", "id_token_nonce", "transient_payload"},
	},
	kratos.Registration: {
		"profile":  {"traits", "screen", "transient_payload"},
		"password": {"traits", "password", "transient_payload"},
		"code":     {"traits", "code", "resend", "transient_payload"},
		"webauthn": {"traits", "webauthn_register", "webauthn_register_displayname", "transient_payload"},
		"passkey":  {"traits", "passkey_register", "transient_payload"},
		"oidc":     {"provider", "traits", "upstream_parameters", "id_token", "id_token_nonce", "transient_payload"},
	},
	kratos.Recovery: {
		"code": {"email", "code", "transient_payload"},
		"link": {"email", "transient_payload"},
		"":     {"email", "code", "transient_payload"},
	},
	kratos.Verification: {
		"code": {"email", "code", "transient_payload"},
		"link": {"email", "transient_payload"},
		"":     {"email", "code", "transient_payload"},
	},
	kratos.Settings: {
		"profile":       {"traits", "transient_payload"},
		"password":      {"password", "transient_payload"},
		"totp":          {"totp_code", "totp_unlink", "transient_payload"},
		"lookup_secret": {"lookup_secret_reveal", "lookup_secret_regenerate", "lookup_secret_confirm", "lookup_secret_disable", "transient_payload"},
		"webauthn":      {"webauthn_register", "webauthn_register_displayname", "webauthn_remove", "transient_payload"},
		"passkey":       {"passkey_settings_register", "passkey_remove"},
		"oidc":          {"link", "unlink", "traits", "upstream_parameters", "transient_payload"},
	},
}

// inferred lists, per flow, the methods Kratos picks by a field's presence
// when no method is sent: its own forms have buttons that carry only that
// field (security keys, passkeys, backup codes, TOTP removal, second-factor
// address buttons, the two-step registration's screen buttons, social
// sign-in's provider, link and unlink buttons).
var inferred = map[kratos.Kind][]struct{ field, method string }{
	kratos.Login: {
		{"address", "code"}, {"webauthn_login", "webauthn"}, {"passkey_login", "passkey"},
		{"provider", "oidc"},
	},
	kratos.Registration: {
		{"screen", "profile"}, {"webauthn_register", "webauthn"}, {"passkey_register", "passkey"},
		{"provider", "oidc"},
	},
	kratos.Settings: {
		{"lookup_secret_reveal", "lookup_secret"}, {"lookup_secret_regenerate", "lookup_secret"},
		{"lookup_secret_confirm", "lookup_secret"}, {"lookup_secret_disable", "lookup_secret"},
		{"totp_unlink", "totp"}, {"webauthn_register", "webauthn"}, {"webauthn_remove", "webauthn"},
		{"passkey_settings_register", "passkey"}, {"passkey_remove", "passkey"},
		{"link", "oidc"}, {"unlink", "oidc"},
	},
	kratos.Verification: {{"code", "code"}},
}

// Method returns the method a submission names, as Kratos will dispatch
// it: the method field, or, without one, the method whose button field is
// present. Fields of two methods without a method field are refused: which
// one Kratos took would depend on its strategy order. "profile:back" is the
// registration's legacy back button.
func (b *Body) Method(kind kratos.Kind) (string, error) {
	m, err := b.str("method")
	if err != nil {
		return "", err
	}
	if kind == kratos.Registration && m == "profile:back" {
		return "profile", nil
	}
	if m == "" {
		for _, inf := range inferred[kind] {
			if !b.has(inf.field) || inf.method == m {
				continue
			}
			if m != "" {
				return "", badRequest("fields of two methods and no method", "unknown-method")
			}
			m = inf.method
		}
	}
	if _, ok := fields[kind][m]; !ok {
		return "", badRequest("unknown method "+quote(m), "unknown-method")
	}
	return m, nil
}

// NeedsSchema reports whether Classify needs the identity schemas'
// address traits: a registration by code sends to them, a settings profile
// update may change them.
func (b *Body) NeedsSchema(kind kratos.Kind) bool {
	return kind != kratos.Login && b.NeedsFlow(kind)
}

// NeedsFlow reports whether Classify needs the flow's state: for the code
// method, which sends or checks depending on it (and, at sign-in, on the
// requested AAL); for settings profile changes, to tell a changed address
// from an unchanged one.
func (b *Body) NeedsFlow(kind kratos.Kind) bool {
	m, err := b.Method(kind)
	if err != nil {
		return false
	}
	switch {
	case m == "code" && (kind == kratos.Login || kind == kratos.Registration):
		return true
	case m == "profile" && kind == kratos.Settings:
		return true
	}
	return false
}

// Classify decides what the submission attempts and builds the body to
// forward. f is the flow's state when NeedsFlow asked for it (Known false
// if it could not be read: Classify then assumes every case Kratos might
// take). An *Error is a submission to refuse.
func Classify(kind kratos.Kind, b *Body, f Flow, schema Schema) (*Attempt, error) {
	m, err := b.Method(kind)
	if err != nil {
		return nil, err
	}
	accepted := append([]string{"method", "csrf_token"}, fields[kind][m]...)
	aliases := accepted
	if kind == kratos.Login && m == "password" {
		aliases = append(aliases, "password_identifier")
	}
	if err := b.checkNames(aliases); err != nil {
		return nil, err
	}
	if b.json {
		for _, name := range []string{"traits", "upstream_parameters", "transient_payload"} {
			if v, ok := b.doc[name]; ok && v.Kind() != '{' && v.Kind() != 'n' {
				return nil, badRequest(name+" must be an object", "")
			}
		}
	} else if b.form.Has("traits") || b.form.Has("upstream_parameters") {
		// Kratos would read a bare traits field as raw JSON beside the
		// dotted ones, in an order of its choosing.
		return nil, badRequest("bare traits field in a form", "")
	}
	a := &Attempt{Kind: kind, Method: m}
	set := map[string]string{"method": m}
	if sent, _ := b.str("method"); sent == "" || (kind == kratos.Registration && m == "profile") {
		// Where Kratos decides by the fields (recovery, verification, the
		// buttons above, the registration's screens), forward the method
		// as sent: "profile" would override a "previous" screen button.
		set["method"] = sent
	}
	s := func(name string) string {
		v, e := b.str(name)
		if e != nil && err == nil {
			err = e
		}
		return v
	}

	switch kind {
	case kratos.Login:
		switch m {
		case "password":
			id, err := oneAccount(kratos.PasswordIdentifier, s("identifier"), s("password_identifier"))
			if err != nil {
				return nil, err
			}
			set["identifier"] = id
			a.Account = accountForm(kratos.PasswordIdentifier, id)
			if s("password") != "" {
				a.Secret = Password
			}
		case "code":
			typed, err := oneAccount(kratos.Address, s("address"), s("identifier"))
			if err != nil {
				return nil, err
			}
			name := accountForm(kratos.Address, typed)
			send, check := codePhase(f, s("resend"), s("code") != "")
			if f.Known && f.RequestedAAL == "aal2" {
				a.SecondFactor = true
				if send {
					if name != "" {
						a.Sends = []string{name}
					} else {
						a.SendsToSession = true
					}
				}
			} else {
				a.Account = name
				if send {
					a.Sends = []string{name}
				}
			}
			if check {
				a.Secret = OneTimeCode
			}
		case "totp":
			a.SecondFactor = true
			if s("totp_code") != "" {
				a.Secret = TOTP
			}
		case "lookup_secret":
			a.SecondFactor = true
			if s("lookup_secret") != "" {
				a.Secret = BackupCode
			}
		case "webauthn", "passkey", "oidc":
			a.Unguessable = true
			a.SecondFactor = m == "webauthn" && f.Known && f.RequestedAAL == "aal2"
			if m == "webauthn" {
				a.Account = accountForm(kratos.PasswordIdentifier, s("identifier"))
			}
		case "identifier_first":
			a.Account = accountForm(kratos.PasswordIdentifier, s("identifier"))
		}
		if a.Secret != NoSecret && !a.SecondFactor && a.Account == "" {
			// Kratos would fail too; refusing here means such a guess is
			// never counted against the IP alone.
			return nil, badRequest("secret without an account", "no-account")
		}
		if len(a.Sends) > 0 && a.Sends[0] == "" {
			return nil, badRequest("code requested without an address", "no-account")
		}

	case kratos.Registration:
		switch m {
		case "code":
			send, check := codePhase(f, s("resend"), s("code") != "")
			if send {
				addrs, err := addresses(b, schema)
				if err != nil {
					return nil, err
				}
				if len(addrs) == 0 {
					return nil, badRequest("code requested without an address", "no-account")
				}
				a.Sends = sendForms(addrs)
			}
			if check {
				a.Secret = OneTimeCode
			}
		case "passkey", "webauthn", "oidc":
			a.Unguessable = true
		}

	case kratos.Recovery, kratos.Verification:
		email, code := s("email"), s("code")
		switch {
		case kind == kratos.Verification && code != "":
			// Verification checks a code whenever one is present.
			a.Secret = OneTimeCode
		case email != "":
			a.Sends = []string{kratos.Address(email)}
		case code != "":
			// Recovery checks the code of the flow's last send; the
			// address is not in the request, but every code was counted
			// against its address when it was sent.
			a.Secret = OneTimeCode
		}

	case kratos.Settings:
		a.Change = settingsChange(b, m)
		if m == "profile" && !f.Refused {
			sends, err := changedAddresses(b, f, schema)
			if err != nil {
				return nil, err
			}
			a.Sends = sends
		}
	}
	if err != nil {
		return nil, err
	}
	body, err := b.encode(accepted, set)
	if err != nil {
		return nil, badRequest("cannot encode body", "")
	}
	a.body, a.contentType, a.Fields = body, b.contentType(), b.form
	return a, nil
}

// settingsChange is what a settings submission of method m does, by the
// button it carries (Kratos's settings strategies read the same fields).
func settingsChange(b *Body, m string) string {
	switch {
	case m == "totp" && b.isTrue("totp_unlink"), m == "lookup_secret" && b.isTrue("lookup_secret_disable"),
		m == "webauthn" && b.has("webauthn_remove"), m == "passkey" && b.has("passkey_remove"):
		return "removed"
	case m == "totp" && b.has("totp_code"), m == "lookup_secret" && b.isTrue("lookup_secret_confirm"),
		m == "webauthn" && b.has("webauthn_register"), m == "passkey" && b.has("passkey_settings_register"):
		return "added"
	}
	return ""
}

// oneAccount returns the account named by the fields Kratos may read it
// from (first non-empty wins there), refusing two that Kratos's form of the
// method tells apart: which one Kratos judged would depend on the step.
func oneAccount(form func(string) string, first, second string) (string, error) {
	if first != "" && second != "" && form(first) != form(second) {
		return "", badRequest("two different accounts named", "two-accounts")
	}
	if first != "" {
		return first, nil
	}
	return second, nil
}

// accountForm is form(typed), or "" when nothing was typed: an empty or
// blank identifier names no account (Kratos refuses it as required).
func accountForm(form func(string) string, typed string) string {
	if typed == "" {
		return ""
	}
	return form(typed)
}

// codePhase says whether a code-method submission makes Kratos send a code
// and whether it makes Kratos check one (SetDefaultFlowState: resend=code,
// compared case-insensitively, or a flow still choosing its method sends;
// a flow whose code was sent checks). Not knowing the state, both.
func codePhase(f Flow, resend string, hasCode bool) (send, check bool) {
	if strings.EqualFold(resend, "code") {
		return true, false
	}
	if !f.Known {
		return true, hasCode
	}
	switch f.State {
	case "", "choose_method":
		return true, false
	case "sent_email":
		return false, hasCode
	}
	return false, false
}

// addresses returns the submission's values of the schema's address
// traits, as typed.
func addresses(b *Body, schema Schema) ([]string, error) {
	var out []string
	for _, p := range schema.Addresses {
		vs, err := b.traitValues(p)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// sendForms returns Kratos's form of each address (kratos.Address), each
// once.
func sendForms(typed []string) []string {
	var out []string
	for _, v := range typed {
		if f := kratos.Address(v); !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// changedAddresses returns the address traits a settings profile update
// sets to a value the identity does not have yet, in Kratos's form: Kratos
// sends each a verification code. New and current values are compared as
// Kratos compares verifiable addresses (identity/extension_verification.go:
// an e-mail address lower-cased and trimmed, a phone number only trimmed;
// a value with an "@" can only be an e-mail address). Without the current
// traits, every one.
func changedAddresses(b *Body, f Flow, schema Schema) ([]string, error) {
	addrs, err := addresses(b, schema)
	if err != nil || !f.Known || len(f.Traits) == 0 {
		return sendForms(addrs), err
	}
	current := map[string]bool{}
	for _, p := range schema.Addresses {
		vs, err := valuesAt(f.Traits, p)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			current[verifiable(v)] = true
		}
	}
	var changed []string
	for _, v := range addrs {
		if !current[verifiable(v)] {
			changed = append(changed, v)
		}
	}
	return sendForms(changed), nil
}

// verifiable is the value Kratos stores for a verifiable address.
func verifiable(v string) string {
	if strings.Contains(v, "@") {
		return strings.ToLower(strings.TrimSpace(v))
	}
	return strings.TrimSpace(v)
}

// FlowOf builds the Flow of a flow Kratos answered with.
func FlowOf(kf *kratos.Flow) Flow {
	f := Flow{Known: true, State: kf.State, RequestedAAL: kf.RequestedAAL}
	if kf.Identity != nil && jsontext.Value(kf.Identity.Traits).IsValid() {
		f.Traits = jsontext.Value(kf.Identity.Traits)
	}
	return f
}
