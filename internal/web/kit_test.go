package web_test

// The test kit of package web: the recorded flows, the stub Kratos every
// fake embeds, and the diff helper.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// fixture is one flow of testdata/flows: raw Kratos JSON, recorded by
// TestRecordFlows or hand-written (synthetic_*.json).
type fixture struct {
	name string
	kind kratos.Kind
	id   string
	raw  []byte
}

// loadFixtures reads every recorded flow, sorted by name.
func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "flows", "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no fixtures in testdata/flows: run go test ./internal/web -run RecordFlows -record")
	}
	slices.Sort(files)
	var out []fixture
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var head struct {
			ID         string `json:"id"`
			RequestURL string `json:"request_url"`
			UI         struct {
				Action string `json:"action"`
			} `json:"ui"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		kind, err := kindOfURL(head.UI.Action)
		if err != nil {
			// A passed verification flow posts to its return URL: its
			// kind is in the URL that started it, …/self-service/<kind>/browser.
			var err2 error
			if kind, err2 = kindOfURL(head.RequestURL); err2 != nil {
				tb.Fatalf("%s: %v; %v", f, err, err2)
			}
		}
		out = append(out, fixture{name: strings.TrimSuffix(filepath.Base(f), ".json"), kind: kind, id: head.ID, raw: raw})
	}
	return out
}

// fixtureNamed is the recorded flow called name.
func fixtureNamed(tb testing.TB, name string) fixture {
	tb.Helper()
	for _, f := range loadFixtures(tb) {
		if f.name == name {
			return f
		}
	}
	tb.Fatalf("no fixture %q in testdata/flows", name)
	return fixture{}
}

// kindOfURL derives the flow kind from a self-service URL: ui.action,
// …/self-service/<kind>?flow=<id>, or request_url, …/self-service/<kind>/browser.
func kindOfURL(s string) (kratos.Kind, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	_, rest, ok := strings.Cut(u.Path, "/self-service/")
	if !ok {
		return "", fmt.Errorf("%q is not a self-service URL", s)
	}
	rest = strings.TrimSuffix(rest, "/browser")
	kind, ok := kratos.ParseKind(rest)
	if !ok {
		return "", fmt.Errorf("%q: unknown flow kind %q", s, rest)
	}
	return kind, nil
}

// errNotStubbed is what stubKratos answers.
var errNotStubbed = errors.New("test: not part of this stub")

// stubKratos answers every call with errNotStubbed (and the default address
// trait): the fakes embed it and serve only what their tests need.
type stubKratos struct{}

func (stubKratos) Ready(context.Context) error { return nil }
func (stubKratos) GetFlow(context.Context, kratos.Kind, string, kratos.Browser) (*kratos.Flow, error) {
	return nil, errNotStubbed
}
func (stubKratos) GetFlowJSON(context.Context, kratos.Kind, string, kratos.Browser) ([]byte, error) {
	return nil, errNotStubbed
}
func (stubKratos) CreateBrowserFlow(context.Context, kratos.Kind, url.Values, kratos.Browser) (*kratos.Flow, []string, error) {
	return nil, nil, errNotStubbed
}
func (stubKratos) Submit(context.Context, kratos.Kind, string, []byte, string, kratos.Browser) (*kratos.Response, error) {
	return nil, errNotStubbed
}
func (stubKratos) Whoami(context.Context, kratos.Browser) (*kratos.Session, error) {
	return nil, errNotStubbed
}
func (stubKratos) ListSessions(context.Context, kratos.Browser) ([]kratos.Session, error) {
	return nil, errNotStubbed
}
func (stubKratos) RevokeSession(context.Context, string, kratos.Browser) error { return errNotStubbed }
func (stubKratos) RevokeOtherSessions(context.Context, kratos.Browser) error   { return errNotStubbed }
func (stubKratos) LogoutURL(context.Context, string, kratos.Browser) (string, error) {
	return "", errNotStubbed
}
func (stubKratos) GetError(context.Context, string) (*kratos.ErrorFlow, error) {
	return nil, errNotStubbed
}
func (stubKratos) GetIdentity(context.Context, string) (*kratos.Identity, error) {
	return nil, errNotStubbed
}
func (stubKratos) IdentitySessions(context.Context, string) ([]kratos.Session, bool, error) {
	return nil, false, errNotStubbed
}
func (stubKratos) AddressTraits(context.Context) ([]string, error) { return []string{"email"}, nil }
func (stubKratos) Schemas(context.Context) (map[string]kratos.SchemaTraits, error) {
	return map[string]kratos.SchemaTraits{"default": {Identifiers: []string{"email"}, Addresses: []string{"email"}, Emails: []string{"email"}, Recovery: []string{"email"}}}, nil
}
func (stubKratos) Logout(context.Context, kratos.Browser) ([]string, error) {
	return nil, errNotStubbed
}
func (stubKratos) DeleteIdentity(context.Context, string) error { return errNotStubbed }
func (stubKratos) SetIdentityState(context.Context, string, string) error {
	return errNotStubbed
}

// fixtureKratos is a Kratos that knows one recorded flow, decoded afresh on
// every fetch as the real client decodes Kratos's answer.
type fixtureKratos struct {
	stubKratos
	f fixture
}

func (k *fixtureKratos) GetFlow(_ context.Context, kind kratos.Kind, id string, _ kratos.Browser) (*kratos.Flow, error) {
	if kind != k.f.kind || id != k.f.id {
		return nil, &kratos.APIError{Status: http.StatusNotFound, ID: "self_service_flow_not_found"}
	}
	var f kratos.Flow
	if err := kratos.Decode(k.f.raw, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// The origins of the recorded fixtures (integration's TestRecordFlows
// rewrites them to these) and the HERA_PUBLIC_URL the golden tests render
// with: Kratos's script nodes then point at Hera's own proxy, as they do in
// production.
const (
	goldenPublicURL = "http://localhost:4455"
	goldenKratosURL = "http://127.0.0.1:4433"
	goldenAdminURL  = "http://127.0.0.1:4434"
)

// lockedBuffer is the stack test kit's goroutine-safe buffer.
type lockedBuffer = stacktest.Buffer
