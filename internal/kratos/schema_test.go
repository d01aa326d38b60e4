package kratos_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	dev "github.com/heraproject/hera/deploy/dev"
	"github.com/heraproject/hera/internal/kratos"
)

// TestSchemas reads the dev stack's three identity schemas as Kratos serves
// them (GET /schemas) and checks what each says identifies an account.
func TestSchemas(t *testing.T) {
	var list []map[string]any
	for id, file := range map[string]string{"default": "identity.schema.json", "username": "identity.username.schema.json", "phone": "identity.phone.schema.json"} {
		b, err := dev.FS.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, map[string]any{"id": id, "schema": json.RawMessage(b)})
	}
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/schemas" {
			http.NotFound(w, r)
			return
		}
		calls++
		_ = json.NewEncoder(w).Encode(list)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	kc, err := kratos.NewClient(u, u, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kc.Schemas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]kratos.SchemaTraits{
		"default":  {Identifiers: []string{"email"}, Addresses: []string{"email"}, Emails: []string{"email"}, Recovery: []string{"email"}},
		"username": {Identifiers: []string{"username"}, Addresses: []string{"email"}, Emails: []string{"email"}, Recovery: []string{"email"}},
		"phone":    {Identifiers: []string{"phone"}, Addresses: []string{"phone"}, Phones: []string{"phone"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("schemas:\n got %+v\nwant %+v", got, want)
	}
	addrs, err := kc.AddressTraits(context.Background())
	if err != nil || !reflect.DeepEqual(addrs, []string{"email", "phone"}) {
		t.Errorf("address traits %v %v", addrs, err)
	}
	if calls != 1 {
		t.Errorf("%d fetches, want 1 (cached)", calls)
	}
}
