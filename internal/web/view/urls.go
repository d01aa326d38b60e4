package view

// Hera's URL rules for what Kratos and Hydra hand it: templ escapes, these
// decide which URLs may appear at all.

import (
	"net/url"
	"strings"
)

// SafeHTTPURL returns u if it is an absolute http(s) URL, else "".
func SafeHTTPURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return p.String()
}

// SafeImageSrc allows PNG/JPEG/GIF data URLs (the TOTP QR code) and http(s).
func SafeImageSrc(src string) string {
	for _, pre := range []string{"data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,"} {
		if strings.HasPrefix(src, pre) {
			return src
		}
	}
	return SafeHTTPURL(src)
}
