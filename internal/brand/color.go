// Package brand is the operator's branding as Hera serves it: the brand
// colour turned into readable colours for each colour scheme, the
// stylesheet that carries them, and the brand assets directory, read and
// checked at start.
package brand

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
)

// The operator's brand colour (HERA_BRAND_PRIMARY_COLOR) is one colour, but
// Hera uses it in several places — as the primary button's background, and
// as text on the card and on the page background (links, secondary and
// link buttons) — in a light and a dark colour scheme. No single colour is
// readable in all of them, so for each scheme Hera derives, at start, the
// colour each use needs, measured with WCAG 2.x contrast: the brand colour
// darkened (light scheme) or lightened (dark scheme), keeping its hue and
// saturation, only as far as needed:
//
//   - --primary, the primary button's background: until it stands 3:1
//     against the card and the page (WCAG 1.4.11: the button's shape);
//   - --primary-fg, the text on it: white or black, whichever contrasts
//     more (one of them always passes 4.5:1 on any colour);
//   - --link, links and the text and edge of secondary buttons: until it
//     passes 4.5:1 on the card and on the page.
//
// The focus ring (--focus) does not derive from the brand colour.

// MinTextContrast is WCAG AA's ratio for normal text. axe-core, which the
// browser tests run, passes only ratios above it, so Hera's colours do too.
const MinTextContrast = 4.5

// MinUIContrast is WCAG 1.4.11's ratio for the parts of a control that
// identify it (a button's shape) and for focus indicators.
const MinUIContrast = 3.0

// RGB is an opaque sRGB colour.
type RGB struct{ R, G, B uint8 }

// ParseHex reads #rrggbb (the form the configuration accepts).
func ParseHex(s string) (RGB, error) {
	if len(s) != 7 || s[0] != '#' {
		return RGB{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return RGB{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	return RGB{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}

// mustHex is ParseHex for Hera's own constants.
func mustHex(s string) RGB {
	c, err := ParseHex(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String is the colour as CSS writes it, #rrggbb.
func (c RGB) String() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// Luminance is WCAG 2.x relative luminance (the sRGB transfer function as
// axe-core and the current sRGB standard write it: 0.04045).
func Luminance(c RGB) float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Contrast is the WCAG 2.x contrast ratio of two colours, from 1 to 21.
func Contrast(a, b RGB) float64 {
	la, lb := Luminance(a), Luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// ReadableOn reports whether c, as text, is readable on every surface.
func ReadableOn(c RGB, surfaces ...RGB) bool {
	for _, s := range surfaces {
		if Contrast(c, s) <= MinTextContrast {
			return false
		}
	}
	return true
}

// VisibleOn reports whether c, as a control's shape or a focus ring,
// shows on every surface.
func VisibleOn(c RGB, surfaces ...RGB) bool {
	for _, s := range surfaces {
		if Contrast(c, s) < MinUIContrast {
			return false
		}
	}
	return true
}

// Scheme is one of Hera's colour schemes: the surfaces brand colours sit
// on, as hera.css's :root blocks set them (internal/web's tests keep the
// two equal), and its focus ring.
type Scheme struct {
	Name              string
	Page, Card, Focus RGB
	// Dark: colours are lightened to stand out, not darkened.
	Dark bool
}

// Hera's two schemes.
var (
	Light = Scheme{Name: "light", Page: mustHex("#f4f5f7"), Card: mustHex("#ffffff"), Focus: mustHex("#b45309")}
	Dark  = Scheme{Name: "dark", Page: mustHex("#111317"), Card: mustHex("#1b1e24"), Focus: mustHex("#ffc247"), Dark: true}
)

// Palette is what the brand colour becomes in one scheme: hera.css's
// custom properties --primary, --primary-fg and --link.
type Palette struct {
	Primary, PrimaryFG, Link RGB
}

var (
	white = RGB{255, 255, 255}
	black = RGB{0, 0, 0}
)

// Derive computes the brand colour's palette for scheme s.
func Derive(brand RGB, s Scheme) Palette {
	var p Palette
	p.Primary = shiftUntil(brand, s.Dark, func(c RGB) bool { return VisibleOn(c, s.Page, s.Card) })
	p.PrimaryFG = white
	if Contrast(black, p.Primary) > Contrast(white, p.Primary) {
		p.PrimaryFG = black
	}
	p.Link = shiftUntil(brand, s.Dark, func(c RGB) bool { return ReadableOn(c, s.Page, s.Card) })
	return p
}

// Stylesheet is /brand.css: the palette of the brand colour (#rrggbb, ""
// for none) for the light and the dark scheme, then the operator's own
// CSS, which can override anything.
func Stylesheet(color, extra string) ([]byte, error) {
	var b bytes.Buffer
	if color != "" {
		c, err := ParseHex(color)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "/* HERA_BRAND_PRIMARY_COLOR %s, for each colour scheme (docs/languages-and-branding.md). */\n", c)
		write := func(indent string, p Palette) {
			fmt.Fprintf(&b, "%s:root { --primary: %s; --primary-fg: %s; --link: %s; }\n", indent, p.Primary, p.PrimaryFG, p.Link)
		}
		write("", Derive(c, Light))
		b.WriteString("@media (prefers-color-scheme: dark) {\n")
		write("  ", Derive(c, Dark))
		b.WriteString("}\n")
	}
	b.WriteString(extra)
	return b.Bytes(), nil
}

// ContentHash names a version of content in URLs and ETags.
func ContentHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:4])
}

// shiftUntil returns the colour nearest to c, of c's hue and saturation
// (HSL) but lighter (up) or darker, that satisfies ok; c itself if it does.
// Along that line luminance only grows with lightness, even after rounding
// to 8 bits, so ok — a contrast against darker surfaces when lightening,
// lighter ones when darkening — turns true once and stays true: a binary
// search finds the edge. White and black, the ends, satisfy any ok Hera
// asks for against its surfaces.
func shiftUntil(c RGB, up bool, ok func(RGB) bool) RGB {
	if ok(c) {
		return c
	}
	h, s, l := toHSL(c)
	// near fails ok, far satisfies it.
	near, far := l, 0.0
	if up {
		far = 1
	}
	best := fromHSL(h, s, far)
	for range 40 {
		mid := (near + far) / 2
		m := fromHSL(h, s, mid)
		if ok(m) {
			far, best = mid, m
		} else {
			near = mid
		}
	}
	return best
}

// toHSL converts c to hue (degrees), saturation and lightness (0–1).
func toHSL(c RGB) (h, s, l float64) {
	r, g, b := float64(c.R)/255, float64(c.G)/255, float64(c.B)/255
	hi, lo := max(r, g, b), min(r, g, b)
	l = (hi + lo) / 2
	d := hi - lo
	if d == 0 {
		return 0, 0, l
	}
	s = d / (1 - math.Abs(2*l-1))
	switch hi {
	case r:
		h = math.Mod((g-b)/d, 6)
	case g:
		h = (b-r)/d + 2
	default:
		h = (r-g)/d + 4
	}
	h *= 60
	if h < 0 {
		h += 360
	}
	return h, s, l
}

// fromHSL converts hue (degrees), saturation and lightness to the nearest
// 8-bit colour.
func fromHSL(h, s, l float64) RGB {
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := l - c/2
	var r, g, b float64
	switch {
	case h < 60:
		r, g, b = c, x, 0
	case h < 120:
		r, g, b = x, c, 0
	case h < 180:
		r, g, b = 0, c, x
	case h < 240:
		r, g, b = 0, x, c
	case h < 300:
		r, g, b = x, 0, c
	default:
		r, g, b = c, 0, x
	}
	to8 := func(v float64) uint8 { return uint8(math.Round(min(max(v+m, 0), 1) * 255)) }
	return RGB{to8(r), to8(g), to8(b)}
}
