package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// createUser makes the identity with a password and a verified address
// through Kratos's admin API, deleting an earlier run's first.
func createUser(ctx context.Context, kratosAdmin, email, pw string) error {
	body := map[string]any{
		"schema_id": "default",
		"traits": map[string]any{
			"email": email,
			"name":  map[string]string{"first": "Ada", "last": "Lovelace"},
		},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]string{"password": pw}}},
		// Verified, as after a sign-up, so that no page asks for it.
		"verifiable_addresses": []map[string]any{{"value": email, "via": "email", "verified": true, "status": "completed"}},
	}
	status, b, err := call(ctx, http.MethodPost, kratosAdmin+"/admin/identities", body)
	if err != nil {
		return err
	}
	if status == http.StatusConflict {
		var found []struct {
			ID string `json:"id"`
		}
		status, b, err = call(ctx, http.MethodGet, kratosAdmin+"/admin/identities?credentials_identifier="+url.QueryEscape(email), nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK || json.Unmarshal(b, &found) != nil {
			return fmt.Errorf("look up the earlier %s: %d %s", email, status, b)
		}
		for _, f := range found {
			if status, b, err = call(ctx, http.MethodDelete, kratosAdmin+"/admin/identities/"+url.PathEscape(f.ID), nil); err != nil {
				return err
			} else if status != http.StatusNoContent {
				return fmt.Errorf("delete the earlier %s: %d %s", email, status, b)
			}
		}
		if status, b, err = call(ctx, http.MethodPost, kratosAdmin+"/admin/identities", body); err != nil {
			return err
		}
	}
	if status != http.StatusCreated {
		return fmt.Errorf("create the identity %s: %d %s", email, status, b)
	}
	return nil
}

// createClient registers the app in Hydra (replacing an earlier run's), as
// a relying party with a name, its terms and a loopback callback.
func createClient(ctx context.Context, hydraAdmin, id, callback string) error {
	if status, b, err := call(ctx, http.MethodDelete, hydraAdmin+"/admin/clients/"+url.PathEscape(id), nil); err != nil {
		return err
	} else if status != http.StatusNoContent && status != http.StatusNotFound {
		return fmt.Errorf("delete the earlier client %s: %d %s", id, status, b)
	}
	status, b, err := call(ctx, http.MethodPost, hydraAdmin+"/admin/clients", map[string]any{
		"client_id":                  id,
		"client_secret":              "secret-" + randomHex(8),
		"client_name":                "Example App",
		"client_uri":                 "https://app.example.com/",
		"policy_uri":                 "https://app.example.com/privacy",
		"tos_uri":                    "https://app.example.com/terms",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid offline_access email profile",
		"redirect_uris":              []string{callback},
		"token_endpoint_auth_method": "client_secret_post",
	})
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("create the client %s: %d %s", id, status, b)
	}
	return nil
}

// call sends a JSON request to an admin API and returns the answer.
func call(ctx context.Context, method, u string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}
