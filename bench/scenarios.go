package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// env is what the scenarios send requests to and with.
type env struct {
	kratos     string // Kratos public API, http://127.0.0.1:<port>
	nginx      string // nginx in front of Kratos, or "" (-nginx=false)
	hera       string // where Hera listens, http://127.0.0.1:<port>
	heraHost   string // Hera's public host (localhost:<port>), the Host header
	heraOrigin string // Hera's public origin, http://localhost:<port>
	email      string
	password   string
	signIns    []string    // the accounts the sign-in scenario uses in turn
	session    string      // "ory_kratos_session=…"
	viewFlows  []loginFlow // flows the page-view scenario fetches again and again
}

// scenario is one side-by-side comparison: the same work straight at Kratos
// and through Hera.
type scenario struct {
	key    string
	title  string
	pooled bool // each request spends one fresh flow
	direct func(e *env, pool []loginFlow) target
	hera   func(e *env, pool []loginFlow) target
}

// signInAccounts is how many accounts the sign-in scenario cycles through:
// more than connections, so no account has two sign-ins in flight.
const signInAccounts = 256

// clientIP is the client address of the i-th sign-in: one per account, so
// no client address has more than one sign-in in flight either.
func clientIP(i int) string {
	n := i % signInAccounts
	return fmt.Sprintf("10.0.%d.%d", n/256, n%256)
}

func scenarios() []scenario {
	return []scenario{
		{
			key:   "render",
			title: "Login page: Kratos `GET /self-service/login/flows?id=` vs Hera `GET /login?flow=`",
			direct: func(e *env, _ []loginFlow) target {
				return target{
					name: "kratos flow fetch",
					req: func(i int) (*http.Request, error) {
						f := e.viewFlows[i%len(e.viewFlows)]
						return e.kratosReq(http.MethodGet, "/self-service/login/flows?id="+url.QueryEscape(f.id), f.cookie, "", nil)
					},
					check: expect(http.StatusOK, `"csrf_token"`),
				}
			},
			hera: func(e *env, _ []loginFlow) target {
				return target{
					name: "hera login page",
					req: func(i int) (*http.Request, error) {
						f := e.viewFlows[i%len(e.viewFlows)]
						return e.heraReq(http.MethodGet, "/login?flow="+url.QueryEscape(f.id), f.cookie, "", nil)
					},
					check: expect(http.StatusOK, `name="csrf_token"`),
				}
			},
		},
		{
			key:   "flowproxy",
			title: "A bare hop, for scale: Kratos `GET /self-service/login/flows?id=` vs the same through Hera's proxy `GET /api/kratos/self-service/login/flows?id=` (no rendering)",
			direct: func(e *env, _ []loginFlow) target {
				return target{
					name: "kratos flow fetch",
					req: func(i int) (*http.Request, error) {
						f := e.viewFlows[i%len(e.viewFlows)]
						return e.kratosReq(http.MethodGet, "/self-service/login/flows?id="+url.QueryEscape(f.id), f.cookie, "", nil)
					},
					check: expect(http.StatusOK, `"csrf_token"`),
				}
			},
			hera: func(e *env, _ []loginFlow) target {
				return target{
					name: "hera proxied flow fetch",
					req: func(i int) (*http.Request, error) {
						f := e.viewFlows[i%len(e.viewFlows)]
						r, err := e.heraReq(http.MethodGet, "/api/kratos/self-service/login/flows?id="+url.QueryEscape(f.id), f.cookie, "", nil)
						if err == nil {
							r.Header.Set("Accept", "application/json")
						}
						return r, err
					},
					check: expect(http.StatusOK, `"csrf_token"`),
				}
			},
		},
		{
			key:   "whoami",
			title: "Who am I: Kratos `GET /sessions/whoami` vs Hera's proxy `GET /api/kratos/sessions/whoami`",
			direct: func(e *env, _ []loginFlow) target {
				return target{
					name: "kratos whoami",
					req: func(int) (*http.Request, error) {
						return e.kratosReq(http.MethodGet, "/sessions/whoami", e.session, "", nil)
					},
					check: expect(http.StatusOK, e.email),
				}
			},
			hera: func(e *env, _ []loginFlow) target {
				return target{
					name: "hera proxied whoami",
					req: func(int) (*http.Request, error) {
						r, err := e.heraReq(http.MethodGet, "/api/kratos/sessions/whoami", e.session, "", nil)
						if err == nil {
							r.Header.Set("Accept", "application/json")
						}
						return r, err
					},
					check: expect(http.StatusOK, e.email),
				}
			},
		},
		{
			key:   "welcome",
			title: "Welcome page with a session: Kratos `GET /sessions/whoami` vs Hera `GET /` (server-side whoami + page)",
			direct: func(e *env, _ []loginFlow) target {
				return target{
					name: "kratos whoami",
					req: func(int) (*http.Request, error) {
						return e.kratosReq(http.MethodGet, "/sessions/whoami", e.session, "", nil)
					},
					check: expect(http.StatusOK, e.email),
				}
			},
			hera: func(e *env, _ []loginFlow) target {
				return target{
					name: "hera welcome",
					req: func(int) (*http.Request, error) {
						return e.heraReq(http.MethodGet, "/", e.session, "", nil)
					},
					check: expect(http.StatusOK, e.email),
				}
			},
		},
		{
			key:    "submit",
			title:  "Password sign-in: Kratos `POST /self-service/login?flow=` (JSON) vs Hera `POST /api/kratos/login/submit?flow=` (form, memory lockout store)",
			pooled: true,
			direct: func(e *env, pool []loginFlow) target {
				return target{
					name:  "kratos login submit",
					limit: len(pool),
					req: func(i int) (*http.Request, error) {
						f := pool[i]
						return e.kratosReq(http.MethodPost, "/self-service/login?flow="+url.QueryEscape(f.id), f.cookie,
							"application/x-www-form-urlencoded", strings.NewReader(loginForm(f, e.signIns[i%len(e.signIns)], e.password)))
					},
					check: expect(http.StatusOK, `"session"`),
				}
			},
			hera: func(e *env, pool []loginFlow) target {
				return target{
					name:  "hera login submit",
					limit: len(pool),
					req: func(i int) (*http.Request, error) {
						f := pool[i]
						r, err := e.heraReq(http.MethodPost, "/api/kratos/login/submit?flow="+url.QueryEscape(f.id), f.cookie,
							"application/x-www-form-urlencoded", strings.NewReader(loginForm(f, e.signIns[i%len(e.signIns)], e.password)))
						if err == nil {
							r.Header.Set("X-Forwarded-For", clientIP(i))
						}
						return r, err
					},
					// Signed in: Post/Redirect/Get to where Kratos sends the
					// browser, never back to the flow page.
					check: func(res *http.Response, _ []byte) error {
						loc := res.Header.Get("Location")
						if res.StatusCode != http.StatusSeeOther || loc == "" || strings.Contains(loc, "flow=") || strings.Contains(loc, "notice=") {
							return fmt.Errorf("status %d, Location %q", res.StatusCode, loc)
						}
						for _, c := range res.Header.Values("Set-Cookie") {
							if strings.HasPrefix(c, "ory_kratos_session=") {
								return nil
							}
						}
						return fmt.Errorf("no session cookie")
					},
				}
			},
		},
	}
}

// kratosReq is a request straight to Kratos's public API, as a single-page
// app would send it.
func (e *env) kratosReq(method, path, cookie, ctype string, body *strings.Reader) (*http.Request, error) {
	var r *http.Request
	var err error
	if body != nil {
		r, err = http.NewRequest(method, e.kratos+path, body)
	} else {
		r, err = http.NewRequest(method, e.kratos+path, nil)
	}
	if err != nil {
		return nil, err
	}
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", "herabench")
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	return r, nil
}

// heraReq is a request to Hera as a browser sends it.
func (e *env) heraReq(method, path, cookie, ctype string, body *strings.Reader) (*http.Request, error) {
	var r *http.Request
	var err error
	if body != nil {
		r, err = http.NewRequest(method, e.hera+path, body)
	} else {
		r, err = http.NewRequest(method, e.hera+path, nil)
	}
	if err != nil {
		return nil, err
	}
	r.Host = e.heraHost
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	r.Header.Set("User-Agent", "herabench")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("Origin", e.heraOrigin)
	}
	return r, nil
}

// expect accepts answers with the status whose body contains want.
func expect(status int, want string) func(*http.Response, []byte) error {
	w := []byte(want)
	return func(res *http.Response, body []byte) error {
		if res.StatusCode != status {
			return fmt.Errorf("status %d (want %d): %.200s", res.StatusCode, status, body)
		}
		if !bytes.Contains(body, w) {
			return fmt.Errorf("answer without %q: %.200s", want, body)
		}
		return nil
	}
}
