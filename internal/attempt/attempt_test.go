package attempt

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/kratos"
)

// classify parses and classifies one submission.
func classify(t *testing.T, kind kratos.Kind, ct, body string, f Flow) (*Attempt, error) {
	t.Helper()
	b, err := Parse(ct, []byte(body))
	if err != nil {
		return nil, err
	}
	return Classify(kind, b, f, DefaultSchema)
}

func mustClassify(t *testing.T, kind kratos.Kind, ct, body string, f Flow) *Attempt {
	t.Helper()
	a, err := classify(t, kind, ct, body, f)
	if err != nil {
		t.Fatalf("%s %q: %v", kind, body, err)
	}
	return a
}

func refused(t *testing.T, kind kratos.Kind, ct, body string, f Flow, status int) {
	t.Helper()
	_, err := classify(t, kind, ct, body, f)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != status {
		t.Fatalf("%s %q: got %v, want a %d refusal", kind, body, err, status)
	}
}

// form is the forwarded body of a form submission, decoded.
func form(t *testing.T, a *Attempt) url.Values {
	t.Helper()
	v, err := url.ParseQuery(string(a.Body()))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	sent   = Flow{Known: true, State: "sent_email", RequestedAAL: "aal1"}
	choose = Flow{Known: true, State: "choose_method", RequestedAAL: "aal1"}
	aal2   = Flow{Known: true, State: "sent_email", RequestedAAL: "aal2"}
)

func TestPasswordAccountFromEveryField(t *testing.T) {
	for _, tc := range []struct{ name, ct, body string }{
		{"identifier form", FormType, "method=password&identifier=Victim%40x.io&password=p&csrf_token=t"},
		{"legacy field form", FormType, "method=password&password_identifier=victim%40x.io&password=p"},
		{"identifier json", JSONType, `{"method":"password","identifier":"victim@x.io","password":"p"}`},
		{"legacy field json", JSONType, `{"method":"password","password_identifier":"victim@x.io","password":"p"}`},
		{"both agree", FormType, "method=password&identifier=victim%40x.io&password_identifier=VICTIM%40x.io&password=p"},
		{"empty identifier falls back", FormType, "method=password&identifier=&password_identifier=victim%40x.io&password=p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustClassify(t, kratos.Login, tc.ct, tc.body, Flow{})
			if !strings.EqualFold(a.Account, "victim@x.io") || a.Secret != Password || a.SecondFactor {
				t.Fatalf("got %+v", a)
			}
			// Kratos gets the account under one name only.
			body := string(a.Body())
			if strings.Contains(body, "password_identifier") || !strings.Contains(strings.ToLower(body), "victim") {
				t.Fatalf("forwarded %s", body)
			}
		})
	}
}

func TestAmbiguousSubmissionsRefused(t *testing.T) {
	for _, tc := range []struct {
		name       string
		kind       kratos.Kind
		ct, body   string
		f          Flow
		wantStatus int
	}{
		{"two accounts, password", kratos.Login, FormType, "method=password&identifier=a%40x.io&password_identifier=b%40x.io&password=p", Flow{}, 400},
		{"two accounts, code", kratos.Login, FormType, "method=code&identifier=victim%40x.io&address=me%40x.io&code=123456", sent, 400},
		{"two accounts, code json", kratos.Login, JSONType, `{"method":"code","identifier":"victim@x.io","address":"me@x.io"}`, choose, 400},
		{"password without account", kratos.Login, FormType, "method=password&password=p", Flow{}, 400},
		{"code without account", kratos.Login, FormType, "method=code&code=123456", sent, 400},
		{"code request without address", kratos.Login, FormType, "method=code", choose, 400},
		{"duplicate field, different values", kratos.Login, FormType, "method=password&identifier=a%40x.io&identifier=b%40x.io&password=p", Flow{}, 400},
		{"duplicate method", kratos.Login, FormType, "method=totp&method=password&identifier=a&password=p", Flow{}, 400},
		{"json case variant of identifier", kratos.Login, JSONType, `{"method":"password","IDENTIFIER":"victim@x.io","password":"p","identifier":"me@x.io"}`, Flow{}, 400},
		{"json case variant alone", kratos.Login, JSONType, `{"method":"password","Identifier":"victim@x.io","password":"p"}`, Flow{}, 400},
		{"json case variant of method", kratos.Login, JSONType, `{"method":"totp","Method":"password","identifier":"a","password":"p"}`, Flow{}, 400},
		{"json long s", kratos.Login, JSONType, "{\"method\":\"password\",\"identifier\":\"a\",\"pa\u017f\u017fword\":\"p\"}", Flow{}, 400},
		{"json fold of an unrelated name", kratos.Login, JSONType, "{\"method\":\"webauthn\",\"identifier\":\"a\",\"\u212aEY\":\"p\"}", Flow{}, 200},
		{"json duplicate inside traits", kratos.Registration, JSONType, `{"method":"code","traits":{"email":"me@x.io","email":"victim@x.io"}}`, choose, 400},
		{"json duplicate member", kratos.Login, JSONType, `{"method":"password","identifier":"a","identifier":"b","password":"p"}`, Flow{}, 400},
		{"json trailing data", kratos.Login, JSONType, `{"method":"password","identifier":"a","password":"p"}{"identifier":"b"}`, Flow{}, 400},
		{"json dotted member", kratos.Registration, JSONType, `{"method":"code","traits.email":"a@x.io"}`, choose, 400},
		{"json identifier not a string", kratos.Login, JSONType, `{"method":"password","identifier":["a"],"password":"p"}`, Flow{}, 400},
		{"json traits not an object", kratos.Registration, JSONType, `{"method":"password","traits":"{}","password":"p"}`, Flow{}, 400},
		{"bare traits in a form", kratos.Registration, FormType, "method=code&traits=%7B%22email%22%3A%22v%40x.io%22%7D&traits.email=me%40x.io", choose, 400},
		{"unknown method", kratos.Login, FormType, "method=Password&identifier=a&password=p", Flow{}, 400},
		{"no method", kratos.Login, FormType, "identifier=a&password=p", Flow{}, 400},
		{"not an object", kratos.Login, JSONType, `["method"]`, Flow{}, 400},
		{"semicolon form", kratos.Login, FormType, "method=password;identifier=a", Flow{}, 400},
		{"multipart", kratos.Login, "multipart/form-data", "x", Flow{}, 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantStatus == 200 {
				// Folding only matters for names a method accepts.
				if _, err := classify(t, tc.kind, tc.ct, tc.body, tc.f); err != nil {
					t.Fatal(err)
				}
				return
			}
			refused(t, tc.kind, tc.ct, tc.body, tc.f, tc.wantStatus)
		})
	}
}

func TestMethodFromButtons(t *testing.T) {
	for _, tc := range []struct {
		kind   kratos.Kind
		body   string
		method string
	}{
		{kratos.Login, "webauthn_login=%7B%7D", "webauthn"},
		{kratos.Login, "passkey_login=%7B%7D", "passkey"},
		{kratos.Settings, "lookup_secret_regenerate=true", "lookup_secret"},
		{kratos.Settings, "totp_unlink=true", "totp"},
		{kratos.Settings, "passkey_remove=abc", "passkey"},
		{kratos.Registration, "screen=previous&traits.email=a", "profile"},
		{kratos.Registration, "method=profile%3Aback&traits.email=a", "profile"},
		{kratos.Registration, "passkey_register=%7B%7D&traits.email=a", "passkey"},
		// Social sign-in buttons (Kratos's oidc nodes) name no method.
		{kratos.Login, "provider=google&identifier=&password=", "oidc"},
		{kratos.Registration, "provider=google&traits.email=", "oidc"},
		{kratos.Settings, "link=google", "oidc"},
		{kratos.Settings, "unlink=google", "oidc"},
	} {
		a := mustClassify(t, tc.kind, FormType, tc.body, Flow{})
		if a.Method != tc.method {
			t.Errorf("%s %s: method %q, want %q", tc.kind, tc.body, a.Method, tc.method)
		}
		// Forwarded as sent, so Kratos infers the same.
		sent, _ := url.ParseQuery(tc.body)
		if got := form(t, a).Get("method"); got != sent.Get("method") {
			t.Errorf("%s %s: forwarded method %q", tc.kind, tc.body, got)
		}
	}
	// Two methods' buttons and no method: Kratos's strategy order would
	// decide; Hera refuses.
	refused(t, kratos.Login, FormType, "webauthn_login=x&passkey_login=y", Flow{}, 400)
	refused(t, kratos.Login, FormType, "address=a%40x.io&passkey_login=y", Flow{}, 400)
	// An explicit method wins and the other method's fields are dropped.
	a := mustClassify(t, kratos.Login, FormType, "method=password&identifier=a&password=p&passkey_login=y", Flow{})
	if a.Method != "password" || form(t, a).Has("passkey_login") {
		t.Fatalf("%+v %s", a, a.Body())
	}
}

func TestDuplicateEqualValuesAccepted(t *testing.T) {
	// A hidden input and a button may both carry method=code.
	a := mustClassify(t, kratos.Login, FormType, "method=code&method=code&identifier=a%40x.io", choose)
	if a.Method != "code" || !slices.Equal(a.Sends, []string{"a@x.io"}) {
		t.Fatalf("got %+v", a)
	}
}

func TestForwardedBodyHoldsOnlyTheMethodsFields(t *testing.T) {
	a := mustClassify(t, kratos.Login, FormType,
		"method=password&identifier=a%40x.io&password=p&csrf_token=t&cf-turnstile-response=tok&code=1&totp_code=2&flow=other&address=b",
		Flow{})
	got := form(t, a)
	want := url.Values{"method": {"password"}, "identifier": {"a@x.io"}, "password": {"p"}, "csrf_token": {"t"}}
	if got.Encode() != want.Encode() {
		t.Fatalf("forwarded %v, want %v", got, want)
	}
	j := mustClassify(t, kratos.Login, JSONType,
		`{"method":"password","password_identifier":"a@x.io","password":"p","extra":{"x":1},"transient_payload":{"k":"v"}}`, Flow{})
	if s := string(j.Body()); s != `{"identifier":"a@x.io","method":"password","password":"p","transient_payload":{"k":"v"}}` {
		t.Fatalf("forwarded %s", s)
	}
}

func TestCodeSignIn(t *testing.T) {
	for _, tc := range []struct {
		name      string
		body      string
		f         Flow
		sends     []string
		secret    Secret
		account   string
		second    bool
		toSession bool
	}{
		{"request", "method=code&identifier=a%40x.io", choose, []string{"a@x.io"}, NoSecret, "a@x.io", false, false},
		{"request by address", "method=code&address=a%40x.io", choose, []string{"a@x.io"}, NoSecret, "a@x.io", false, false},
		{"a code sent to a fresh flow still sends", "method=code&identifier=a%40x.io&code=123456", choose, []string{"a@x.io"}, NoSecret, "a@x.io", false, false},
		{"check", "method=code&identifier=a%40x.io&code=123456", sent, nil, OneTimeCode, "a@x.io", false, false},
		{"check by address", "method=code&address=a%40x.io&code=123456", sent, nil, OneTimeCode, "a@x.io", false, false},
		{"resend", "method=code&identifier=a%40x.io&resend=code&code=1", sent, []string{"a@x.io"}, NoSecret, "a@x.io", false, false},
		{"resend any case", "method=code&identifier=a%40x.io&resend=CoDe", sent, []string{"a@x.io"}, NoSecret, "a@x.io", false, false},
		{"state unknown: both", "method=code&identifier=a%40x.io&code=123456", Flow{}, []string{"a@x.io"}, OneTimeCode, "a@x.io", false, false},
		{"second factor check", "method=code&identifier=a%40x.io&code=123456", aal2, nil, OneTimeCode, "", true, false},
		{"second factor address button", "address=a%40x.io", Flow{Known: true, State: "choose_method", RequestedAAL: "aal2"}, []string{"a@x.io"}, NoSecret, "", true, false},
		{"second factor to every address", "method=code", Flow{Known: true, State: "choose_method", RequestedAAL: "aal2"}, nil, NoSecret, "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustClassify(t, kratos.Login, FormType, tc.body, tc.f)
			if !slices.Equal(a.Sends, tc.sends) || a.Secret != tc.secret || a.Account != tc.account || a.SecondFactor != tc.second || a.SendsToSession != tc.toSession {
				t.Fatalf("got sends=%v secret=%v account=%q second=%v toSession=%v", a.Sends, a.Secret, a.Account, a.SecondFactor, a.SendsToSession)
			}
			// Kratos's own address buttons send no method; neither does Hera.
			if m := form(t, a).Get("method"); m != "code" && !(m == "" && !strings.Contains(tc.body, "method")) {
				t.Fatalf("forwarded %s", a.Body())
			}
		})
	}
}

func TestSecondFactors(t *testing.T) {
	for _, tc := range []struct {
		body   string
		secret Secret
	}{
		{"method=totp&totp_code=123456", TOTP},
		{"method=lookup_secret&lookup_secret=abcd1234", BackupCode},
		{"method=totp", NoSecret},
	} {
		a := mustClassify(t, kratos.Login, FormType, tc.body, Flow{})
		if !a.SecondFactor || a.Secret != tc.secret || a.Account != "" {
			t.Fatalf("%s: %+v", tc.body, a)
		}
	}
	for _, body := range []string{"method=passkey&passkey_login=%7B%7D", "method=webauthn&webauthn_login=%7B%7D", "method=oidc&provider=google"} {
		a := mustClassify(t, kratos.Login, FormType, body, Flow{})
		if !a.Unguessable || a.Secret != NoSecret {
			t.Fatalf("%s: %+v", body, a)
		}
	}
	// A password field beside a passkey is not forwarded: only the
	// passkey is judged, whatever the client hoped.
	a := mustClassify(t, kratos.Login, FormType, "method=passkey&passkey_login=%7B%7D&identifier=v%40x.io&password=guess", Flow{})
	if f := form(t, a); f.Has("password") || f.Has("identifier") {
		t.Fatalf("forwarded %s", a.Body())
	}
}

func TestRecoveryAndVerification(t *testing.T) {
	for _, tc := range []struct {
		kind   kratos.Kind
		body   string
		sends  []string
		secret Secret
	}{
		{kratos.Recovery, "method=code&email=a%40x.io", []string{"a@x.io"}, NoSecret},
		{kratos.Recovery, "method=code&email=a%40x.io&code=123456", []string{"a@x.io"}, NoSecret}, // Kratos resends
		{kratos.Recovery, "method=code&code=123456", nil, OneTimeCode},
		{kratos.Recovery, "code=123456", nil, OneTimeCode},
		{kratos.Verification, "method=code&email=a%40x.io", []string{"a@x.io"}, NoSecret},
		{kratos.Verification, "method=code&email=a%40x.io&code=123456", nil, OneTimeCode}, // Kratos checks
		{kratos.Verification, "code=123456", nil, OneTimeCode},
	} {
		a := mustClassify(t, tc.kind, FormType, tc.body, Flow{})
		if !slices.Equal(a.Sends, tc.sends) || a.Secret != tc.secret {
			t.Fatalf("%s %s: sends=%v secret=%v", tc.kind, tc.body, a.Sends, a.Secret)
		}
	}
	// The flow id in a body would make Kratos's recovery read another flow.
	a := mustClassify(t, kratos.Recovery, FormType, "method=code&email=a%40x.io&flow=00000000-0000-0000-0000-000000000000", Flow{})
	if form(t, a).Has("flow") {
		t.Fatalf("forwarded %s", a.Body())
	}
}

func TestRegistrationCode(t *testing.T) {
	a := mustClassify(t, kratos.Registration, JSONType, `{"method":"code","traits":{"email":"new@x.io","name":{"first":"A"}}}`, choose)
	if !slices.Equal(a.Sends, []string{"new@x.io"}) || a.Secret != NoSecret {
		t.Fatalf("%+v", a)
	}
	a = mustClassify(t, kratos.Registration, FormType, "method=code&traits.email=new%40x.io&code=123456", sent)
	if a.Sends != nil || a.Secret != OneTimeCode {
		t.Fatalf("%+v", a)
	}
	// Schema-defined arrays of addresses: every one is a recipient.
	b, _ := Parse(JSONType, []byte(`{"method":"code","traits":{"emails":["a@x.io","B@x.io","b@x.io"]}}`))
	a, err := Classify(kratos.Registration, b, choose, Schema{Addresses: []string{"emails"}})
	if err != nil || !slices.Equal(a.Sends, []string{"a@x.io", "b@x.io"}) {
		t.Fatalf("%v %+v", err, a)
	}
	refused(t, kratos.Registration, FormType, "method=code&traits.name.first=A", choose, 400)
	// Password registration sends nothing Hera counts and guesses nothing.
	a = mustClassify(t, kratos.Registration, FormType, "method=password&traits.email=a%40x.io&password=p", Flow{})
	if a.Sends != nil || a.Secret != NoSecret {
		t.Fatalf("%+v", a)
	}
}

func TestSettingsAddressChange(t *testing.T) {
	current := Flow{Known: true, Traits: []byte(`{"email":"old@x.io"}`)}
	a := mustClassify(t, kratos.Settings, FormType, "method=profile&traits.email=OLD%40x.io", current)
	if len(a.Sends) != 0 {
		t.Fatalf("unchanged address counted: %v", a.Sends)
	}
	a = mustClassify(t, kratos.Settings, FormType, "method=profile&traits.email=new%40x.io", current)
	if !slices.Equal(a.Sends, []string{"new@x.io"}) {
		t.Fatalf("changed address: %v", a.Sends)
	}
	a = mustClassify(t, kratos.Settings, FormType, "method=profile&traits.email=new%40x.io", Flow{})
	if !slices.Equal(a.Sends, []string{"new@x.io"}) {
		t.Fatalf("unknown current traits: %v", a.Sends)
	}
	// A flow Kratos refuses to show (no session) is refused on submit too:
	// it must not spend the address's send quota.
	a = mustClassify(t, kratos.Settings, FormType, "method=profile&traits.email=new%40x.io", Flow{Refused: true})
	if len(a.Sends) != 0 {
		t.Fatalf("refused flow counted a send: %v", a.Sends)
	}
}

func TestNeedsFlow(t *testing.T) {
	for _, tc := range []struct {
		kind kratos.Kind
		body string
		want bool
	}{
		{kratos.Login, "method=code&identifier=a", true},
		{kratos.Login, "address=a", true},
		{kratos.Login, "method=password&identifier=a", false},
		{kratos.Registration, "method=code", true},
		{kratos.Settings, "method=profile", true},
		{kratos.Recovery, "method=code&email=a", false},
	} {
		b, err := Parse(FormType, []byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := b.NeedsFlow(tc.kind); got != tc.want {
			t.Errorf("%s %s: NeedsFlow %v", tc.kind, tc.body, got)
		}
	}
}

// FuzzClassify: whatever the body, Classify either refuses it or forwards
// a body that names at most the account it keyed on, under one name.
func FuzzClassify(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "method=password&identifier=a&password_identifier=b&password=p")
	f.Add("application/json", `{"method":"password","password_identifier":"a","password":"p"}`)
	f.Add("application/json", `{"method":"code","address":"a","identifier":"a","code":"1"}`)
	f.Fuzz(func(t *testing.T, ct, body string) {
		for _, kind := range []kratos.Kind{kratos.Login, kratos.Registration, kratos.Recovery, kratos.Verification, kratos.Settings} {
			b, err := Parse(ct, []byte(body))
			if err != nil {
				continue
			}
			a, err := Classify(kind, b, Flow{}, DefaultSchema)
			if err != nil {
				continue
			}
			if kind != kratos.Login || a.Secret == NoSecret {
				continue
			}
			fb, err := Parse(ct, a.Body())
			if err != nil {
				t.Fatalf("forwarded body does not parse: %v", err)
			}
			again, err := Classify(kind, fb, Flow{}, DefaultSchema)
			if err != nil {
				t.Fatalf("forwarded body refused: %v", err)
			}
			if again.Account != a.Account || again.Method != a.Method {
				t.Fatalf("forwarded body names %q/%q, keyed %q/%q", again.Account, again.Method, a.Account, a.Method)
			}
		}
	})
}

// TestAccountInKratosForm (issue 23, defects 2 and 3): the account an
// attempt names is Kratos's own form of what was typed, per method: the
// password method lower-cases and trims (İ becomes i, as Kratos's
// strings.ToLower does, not i + U+0307 as case folding would); the code
// method also writes a valid phone number in E.164.
func TestAccountInKratosForm(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"method=password&identifier=+V%C4%B0CT%C4%B0M%40Example.COM%20", "victim@example.com"},
		{"method=password&password_identifier=Victim%40example.com&password=p", "victim@example.com"},
		{"method=password&identifier=%2B49%2030%20123456&password=p", "+49 30 123456"},
		{"method=code&identifier=%2B49%20(30)%20901820", "+4930901820"},
		{"method=code&identifier=%2B49.30.901820", "+4930901820"},
		{"method=code&identifier=V%C4%B0CT%C4%B0M%40Example.COM", "victim@example.com"},
	} {
		b, err := Parse(FormType, []byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		a, err := Classify(kratos.Login, b, choose, DefaultSchema)
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if a.Account != tc.want {
			t.Errorf("%s: account %q, want %q", tc.body, a.Account, tc.want)
		}
	}
	// A code sent to one number in any format is one recipient.
	b, _ := Parse(FormType, []byte("method=code&identifier=%2B49-30-901820"))
	a, err := Classify(kratos.Login, b, choose, DefaultSchema)
	if err != nil || !slices.Equal(a.Sends, []string{"+4930901820"}) {
		t.Fatalf("%v %v", err, a.Sends)
	}
	// Two fields naming one account in two spellings Kratos merges are one
	// account; two accounts are refused.
	refused(t, kratos.Login, FormType, "method=code&identifier=a%40x.io&address=b%40x.io", choose, 400)
	b, _ = Parse(FormType, []byte("method=code&identifier=A%40x.io&address=a%40x.io"))
	if _, err := Classify(kratos.Login, b, choose, DefaultSchema); err != nil {
		t.Fatalf("one account in two spellings refused: %v", err)
	}
}

// TestSettingsChange: what a settings submission does to a second factor
// or passkey, from its buttons, as a form and as JSON.
func TestSettingsChange(t *testing.T) {
	for _, c := range []struct{ ct, body, want string }{
		{FormType, "method=totp&totp_code=123456", "added"},
		{FormType, "method=totp&totp_unlink=true", "removed"},
		{FormType, "method=totp&totp_unlink=false&totp_code=1", "added"},
		{JSONType, `{"method":"totp","totp_unlink":true}`, "removed"},
		{FormType, "lookup_secret_confirm=true", "added"},
		{FormType, "lookup_secret_disable=true", "removed"},
		{FormType, "lookup_secret_regenerate=true", ""},
		{JSONType, `{"method":"lookup_secret","lookup_secret_disable":true}`, "removed"},
		{FormType, "webauthn_register=%7B%7D&webauthn_register_displayname=key", "added"},
		{FormType, "webauthn_remove=abc", "removed"},
		{FormType, "passkey_settings_register=%7B%7D", "added"},
		{JSONType, `{"method":"passkey","passkey_remove":"abc"}`, "removed"},
		{FormType, "method=password&password=x", ""},
	} {
		if got := mustClassify(t, kratos.Settings, c.ct, c.body, Flow{}).Change; got != c.want {
			t.Errorf("%s: Change %q, want %q", c.body, got, c.want)
		}
	}
}
