// Package hydra talks to Ory Hydra's admin API: login, consent and logout
// challenges.
package hydra

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client calls Hydra's admin API.
type Client struct {
	admin *url.URL
	http  *http.Client
}

// NewClient returns a client for Hydra's admin API at admin; every call is
// bounded by timeout.
func NewClient(admin *url.URL, timeout time.Duration) (*Client, error) {
	if admin == nil {
		return nil, fmt.Errorf("hydra: admin URL is required")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("hydra: timeout must be positive")
	}
	return &Client{
		admin: admin,
		http: &http.Client{
			Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// Ready reports whether Hydra's admin API answers its readiness probe.
func (c *Client) Ready(ctx context.Context) error {
	u := c.admin.JoinPath("/health/ready")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("hydra admin API: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("hydra admin API: GET /health/ready: status %d", res.StatusCode)
	}
	return nil
}
