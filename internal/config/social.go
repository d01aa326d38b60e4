package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// parseSocialLogos reads HERA_SOCIAL_LOGOS: comma-separated id=url pairs,
// each id a Kratos oidc provider id, each URL https or a path on Hera (the
// only images Hera's Content-Security-Policy lets pages load besides data:
// URLs).
func parseSocialLogos(v string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, f := range splitList(v) {
		id, u, ok := strings.Cut(f, "=")
		id, u = strings.TrimSpace(id), strings.TrimSpace(u)
		switch {
		case !ok || !validProviderID(id):
			errs = append(errs, fmt.Errorf("%q: want id=url, the id a provider id of letters, digits, '.', '_' or '-'", f))
			continue
		case out[id] != "":
			errs = append(errs, fmt.Errorf("%q: provider %s listed twice", f, id))
			continue
		}
		logo, err := parseLogoURL(u)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		out[id] = logo
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("want id=url pairs")
	}
	return out, nil
}

func validProviderID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == ""
}

// parseLogoURL accepts an absolute https URL or an absolute path on Hera.
// Plain http is refused: the pages' CSP would block the image.
func parseLogoURL(v string) (string, error) {
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.ContainsAny(v, "\\ \t\n\"'<>") {
		return v, nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", errors.New("want an https URL or a path starting with / (Hera's CSP allows no other images)")
	}
	return u.String(), nil
}
