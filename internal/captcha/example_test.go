package captcha_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/heraproject/hera/internal/captcha"
	"github.com/heraproject/hera/internal/captcha/captchatest"
)

// A submit handler verifies first, strips the token, then talks to Kratos.
func Example() {
	srv := captchatest.NewServer(captchatest.Options{})
	defer srv.Close()

	v, err := captcha.New(captcha.Config{
		SiteKey:   captchatest.TestSiteKey,
		Secret:    srv.Secret(),
		VerifyURL: srv.URL, // omit in production
		Hostnames: []string{"localhost"},
	})
	if err != nil {
		panic(err)
	}

	submit := func(form url.Values) {
		_, err := v.Verify(context.Background(), form, "203.0.113.7:52100")
		switch {
		case errors.Is(err, captcha.ErrChallengeFailed):
			fmt.Println("please complete the challenge:", captcha.ReasonOf(err))
			return
		case err != nil:
			fmt.Println("temporarily unavailable:", captcha.ReasonOf(err))
			return
		}
		captcha.Strip(form)
		fmt.Println("forward to Kratos:", form.Encode())
	}

	submit(url.Values{"identifier": {"ada@example.com"}, "cf-turnstile-response": {"pass"}})
	submit(url.Values{"identifier": {"ada@example.com"}, "cf-turnstile-response": {"pass"}})
	submit(url.Values{"identifier": {"ada@example.com"}})
	srv.SetMode(captchatest.Status500)
	submit(url.Values{"identifier": {"ada@example.com"}, "cf-turnstile-response": {srv.Token()}})

	// Output:
	// forward to Kratos: identifier=ada%40example.com
	// please complete the challenge: rejected
	// please complete the challenge: missing-token
	// temporarily unavailable: http-status
}
