// Package kratos talks to Ory Kratos: its public API on behalf of the browser
// and its admin API for Hera's own server-side needs.
package kratos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client calls Kratos's public and admin APIs.
type Client struct {
	public *url.URL
	admin  *url.URL
	http   *http.Client
}

// NewClient returns a client for Kratos at the given base URLs. Each call is
// bounded by timeout; redirects are never followed, since Kratos answers
// browser flows with redirects that are meant for the browser.
func NewClient(public, admin *url.URL, timeout time.Duration) (*Client, error) {
	if public == nil || admin == nil {
		return nil, fmt.Errorf("kratos: public and admin URLs are required")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("kratos: timeout must be positive")
	}
	return &Client{
		public: public,
		admin:  admin,
		http: &http.Client{
			Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// Ready reports whether both Kratos APIs answer their readiness probes.
func (c *Client) Ready(ctx context.Context) error {
	if err := probe(ctx, c.http, c.public.JoinPath("/health/ready")); err != nil {
		return fmt.Errorf("kratos public API: %w", err)
	}
	if err := probe(ctx, c.http, c.admin.JoinPath("/admin/health/ready")); err != nil {
		return fmt.Errorf("kratos admin API: %w", err)
	}
	return nil
}

// probe GETs u and wants a 200.
func probe(ctx context.Context, hc *http.Client, u *url.URL) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u.Path, res.StatusCode)
	}
	return nil
}
