package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// loginFlow is a browser login flow created straight at Kratos, with what a
// browser would hold for it: the CSRF cookie and the form's CSRF token.
type loginFlow struct {
	id     string
	token  string // the csrf_token form field
	cookie string // "csrf_token_…=…", the Cookie header the flow needs
}

// newLoginFlow starts a browser login flow at Kratos, asking for JSON as a
// single-page app would.
func newLoginFlow(ctx context.Context, c *http.Client, kratosURL string) (loginFlow, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, kratosURL+"/self-service/login/browser", nil)
	if err != nil {
		return loginFlow{}, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return loginFlow{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return loginFlow{}, fmt.Errorf("create login flow: %d %.200s", res.StatusCode, b)
	}
	var f struct {
		ID string `json:"id"`
		UI struct {
			Nodes []struct {
				Attributes struct {
					Name  string `json:"name"`
					Value any    `json:"value"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return loginFlow{}, fmt.Errorf("create login flow: %w", err)
	}
	lf := loginFlow{id: f.ID}
	for _, n := range f.UI.Nodes {
		if s, ok := n.Attributes.Value.(string); ok && n.Attributes.Name == "csrf_token" {
			lf.token = s
		}
	}
	var cookies []string
	for _, ck := range res.Cookies() {
		if strings.HasPrefix(ck.Name, "csrf_token") {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
	}
	lf.cookie = strings.Join(cookies, "; ")
	if lf.id == "" || lf.token == "" || lf.cookie == "" {
		return loginFlow{}, errors.New("create login flow: no id, CSRF token or CSRF cookie in Kratos's answer")
	}
	return lf, nil
}

// newLoginFlows creates n flows with par requests in parallel.
func newLoginFlows(ctx context.Context, kratosURL string, n, par int) ([]loginFlow, error) {
	c := newClient(par)
	defer c.CloseIdleConnections()
	out := make([]loginFlow, n)
	errs := make(chan error, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				// Setting up is not measured: a flow Kratos fails to create
				// (a database hiccup on a loaded machine) is asked for again
				// rather than losing the whole run.
				var f loginFlow
				var err error
				for try := range 5 {
					if f, err = newLoginFlow(ctx, c, kratosURL); err == nil || ctx.Err() != nil {
						break
					}
					time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
				}
				if err != nil {
					errs <- err
					return
				}
				out[i] = f
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return out, nil
}

// loginForm is the password submission of flow f.
func loginForm(f loginFlow, email, password string) string {
	return url.Values{
		"csrf_token": {f.token},
		"method":     {"password"},
		"identifier": {email},
		"password":   {password},
	}.Encode()
}

// createIdentity adds a password identity through Kratos's admin API; Kratos
// hashes the password with its configured bcrypt cost.
func createIdentity(ctx context.Context, adminURL, email, password string) error {
	body, _ := json.Marshal(map[string]any{
		"schema_id": "default",
		"traits":    map[string]any{"email": email, "name": map[string]string{"first": "Bench", "last": "Mark"}},
		"credentials": map[string]any{
			"password": map[string]any{"config": map[string]string{"password": password}},
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, adminURL+"/admin/identities", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("create identity: %d %.300s", res.StatusCode, b)
	}
	return nil
}

// newSession signs in straight at Kratos and returns the session cookie
// ("ory_kratos_session=…").
func newSession(ctx context.Context, kratosURL, email, password string) (string, error) {
	c := newClient(1)
	defer c.CloseIdleConnections()
	f, err := newLoginFlow(ctx, c, kratosURL)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, kratosURL+"/self-service/login?flow="+url.QueryEscape(f.id),
		strings.NewReader(loginForm(f, email, password)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cookie", f.cookie)
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sign in: %d %.300s", res.StatusCode, b)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == "ory_kratos_session" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", errors.New("sign in: no ory_kratos_session cookie in Kratos's answer")
}
