// Package useragent says in words which browser and system a User-Agent
// header names ("Firefox", "Linux"), for the pages that list a person's
// devices: the sessions page, and the account's activity. The parsing is
// github.com/mileusna/useragent's; this package only picks the names a
// person knows.
package useragent

import (
	"strings"
	"unicode/utf8"

	"github.com/mileusna/useragent"
)

// maxName bounds a name taken from the header itself (an app's own
// User-Agent, "hera-app/2.1"): anything longer is not a name.
const maxName = 40

// Describe returns the names of the browser (or app) and of the operating
// system that ua, a User-Agent header, stands for: "Firefox", "Linux";
// "Safari", "iOS". Either is "" when the header does not tell it; both
// are for an empty or unreadable header. The names are products' own and
// need no translation; the words around them ("X on Y") are the page's.
func Describe(ua string) (browser, system string) {
	if strings.TrimSpace(ua) == "" {
		return "", ""
	}
	p := useragent.Parse(ua)
	browser, system = p.Name, p.OS
	switch browser {
	case useragent.MobileSafari:
		browser = useragent.Safari // on a phone, it is still Safari to its owner
	case useragent.Mozilla, useragent.Msie:
		browser = "" // a compatibility token, not a browser
	}
	// A name the parser gave (Edge for "Edg/…") is kept, and so is a
	// product token of the header ("Firefox/133.0", an app's "hera-app/2.1");
	// a leftover token it fell back on is not ("Win64", "Mozilla/5.0").
	if strings.Contains(ua, browser) && !strings.Contains(ua, browser+"/") ||
		strings.ContainsAny(browser, "/;()") || utf8.RuneCountInString(browser) > maxName {
		browser = ""
	}
	switch {
	case system == useragent.IOS && p.Device == "iPad":
		system = "iPadOS"
	case system == useragent.CrOS:
		system = useragent.ChromeOS
	case system == useragent.WindowsNT || system == useragent.WindowsPhoneOS:
		system = useragent.Windows
	}
	return browser, system
}
