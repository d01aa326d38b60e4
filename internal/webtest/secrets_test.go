package webtest

import (
	"slices"
	"testing"
)

func TestCredentialSecrets(t *testing.T) {
	raw := []byte(`{"id":"x","traits":{"email":"owner@example.org"},
	 "credentials":{
	  "password":{"identifiers":["owner@example.org"],"config":{"hashed_password":"$argon2id$v=19$m=65536$abcdefgh"}},
	  "code":{"identifiers":["owner@example.org"],"config":{"addresses":[{"address":"owner@example.org","channel":"email"}]}},
	  "lookup_secret":{"identifiers":["x"],"config":{"recovery_codes":[{"code":"backup-code-1","used_at":"2026-12-07T10:00:00Z"},{"code":"short"}]}}},
	 "metadata_admin":{"note":"kept by operators"}}`)
	got, err := CredentialSecrets(raw)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"$argon2id$v=19$m=65536$abcdefgh", "backup-code-1", "kept by operators"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q (no identifiers, times or short words)", got, want)
	}
	if _, err := CredentialSecrets([]byte(`{`)); err == nil {
		t.Error("broken JSON gave no error")
	}
}
