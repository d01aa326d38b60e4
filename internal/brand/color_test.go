package brand

import (
	"fmt"
	"math"
	"testing"
)

// TestBrandPaletteSweep: whatever the brand colour, every text Hera draws
// with it is readable in both schemes — more than 4.5:1 for the text on
// primary buttons and for links and secondary buttons on the card and the
// page — and buttons and the focus ring stand 3:1 against them.
// Swept: a grid over RGB, every grey, the pure primaries and secondaries,
// and colours next to white and black.
func TestPaletteSweep(t *testing.T) {
	var colours []RGB
	for r := 0; r <= 255; r += 15 {
		for g := 0; g <= 255; g += 15 {
			for b := 0; b <= 255; b += 15 {
				colours = append(colours, RGB{uint8(r), uint8(g), uint8(b)})
			}
		}
	}
	for v := range 256 {
		colours = append(colours, RGB{uint8(v), uint8(v), uint8(v)})
	}
	for _, c := range []string{
		"#ff0000", "#00ff00", "#0000ff", "#ffff00", "#00ffff", "#ff00ff",
		"#fffffe", "#fefefe", "#fdfdfd", "#fffff0", "#f5f5dc", "#fafafa", "#f0f8ff",
		"#010101", "#000001", "#0a0a0a", "#111317", "#1b1e24", "#1a1a2e", "#000080",
		"#2e7d32", "#2446c7", "#8aa6ff", "#ffcc00", "#777777", "#767676", "#595959",
	} {
		colours = append(colours, mustHex(c))
	}
	checked := 0
	for _, brand := range colours {
		for _, s := range []Scheme{Light, Dark} {
			p := Derive(brand, s)
			where := fmt.Sprintf("brand %s, %s scheme, %+v", brand, s.Name, p)
			if VisibleOn(brand, s.Page, s.Card) && p.Primary != brand {
				t.Errorf("%s: the button is not the brand colour, which would do", where)
			}
			pairs := []struct {
				what   string
				fg, bg RGB
				min    float64
				strict bool
			}{
				{"button text on the button", p.PrimaryFG, p.Primary, MinTextContrast, true},
				{"link on the card", p.Link, s.Card, MinTextContrast, true},
				{"link on the page", p.Link, s.Page, MinTextContrast, true},
				{"button on the card", p.Primary, s.Card, MinUIContrast, false},
				{"button on the page", p.Primary, s.Page, MinUIContrast, false},
				{"focus ring on the card", s.Focus, s.Card, MinUIContrast, false},
				{"focus ring on the page", s.Focus, s.Page, MinUIContrast, false},
			}
			for _, pr := range pairs {
				c := Contrast(pr.fg, pr.bg)
				if c < pr.min || (pr.strict && c <= pr.min) {
					t.Errorf("%s: %s %s on %s is %.2f:1, want %.1f:1", where, pr.what, pr.fg, pr.bg, c, pr.min)
				}
				checked++
			}
			// The button and the link keep the brand's hue (compared where
			// rounding to 8 bits leaves a hue to speak of), and move from the
			// brand colour only as far as they must: one step less would not
			// do.
			for _, d := range []struct {
				what string
				c    RGB
				ok   func(RGB) bool
			}{
				{"button", p.Primary, func(c RGB) bool { return VisibleOn(c, s.Page, s.Card) }},
				{"link", p.Link, func(c RGB) bool { return ReadableOn(c, s.Page, s.Card) }},
			} {
				if hb, sb, _ := toHSL(brand); sb > 0.2 && chroma(brand) >= 48 && chroma(d.c) >= 48 {
					if hc, _, _ := toHSL(d.c); hueDistance(hb, hc) > 6 {
						t.Errorf("%s: %s hue %.0f°, brand %.0f°", where, d.what, hc, hb)
					}
				}
				if d.c == brand {
					continue
				}
				h, sat, l := toHSL(d.c)
				step := 2.0 / 255
				if s.Dark {
					step = -step
				}
				if less := fromHSL(h, sat, l+step); less != d.c && less != brand && d.ok(less) && closer(less, d.c, brand) {
					t.Errorf("%s: %s %s, nearer the brand, would do too", where, d.what, less)
				}
			}
		}
	}
	t.Logf("%d colours, %d contrast pairs checked", len(colours), checked)
}

func chroma(c RGB) int {
	return int(max(c.R, c.G, c.B)) - int(min(c.R, c.G, c.B))
}

func hueDistance(a, b float64) float64 {
	d := math.Abs(a - b)
	return min(d, 360-d)
}

// closer reports whether a is nearer target than b (in luminance).
func closer(a, b, target RGB) bool {
	return math.Abs(Luminance(a)-Luminance(target)) < math.Abs(Luminance(b)-Luminance(target))
}

// TestContrast: the WCAG formula on known values.
func TestContrast(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#767676", "#ffffff", 4.54}, // the lightest grey readable on white
		{"#2e7d32", "#1b1e24", 3.25}, // axe-core's figures for Hera before
		{"#2e7d32", "#111317", 3.62}, // per-scheme colours
		{"#0c1022", "#2e7d32", 3.68},
		{"#1a1a2e", "#111317", 1.09},
	} {
		// axe-core reports ratios cut to two decimals.
		if got := Contrast(mustHex(tc.a), mustHex(tc.b)); math.Floor(got*100)/100 != tc.want {
			t.Errorf("Contrast(%s, %s) = %.4f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
	for _, bad := range []string{"", "#fff", "2e7d32", "#2e7d3g", "#2e7d321"} {
		if _, err := ParseHex(bad); err == nil {
			t.Errorf("ParseHex(%q) accepted", bad)
		}
	}
}
