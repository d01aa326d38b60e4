package web

import (
	"bytes"

	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/kratos"
)

// writeFlow writes a flow page's content: the OAuth2 client, title,
// messages, one form per method group and the links to other flows. It is
// the flow template written as code (see escape.go for why), matching
// testdata/oracle/flow.html byte for byte.
func writeFlow(b *bytes.Buffer, p *FlowPage, lang string, cat *i18n.Catalog) {
	if c := p.Client; c != nil {
		b.WriteString("<div class=\"client\">")
		if c.LogoURI != "" {
			b.WriteString("<img src=\"")
			escURL(b, c.LogoURI)
			b.WriteString("\" alt=\"\" width=\"48\" height=\"48\">")
		}
		b.WriteString("<p>")
		escHTML(b, cat.T(lang, "hera.flow.continue_to", map[string]any{"client": c.Name}))
		b.WriteString("</p></div>\n")
	}
	b.WriteString("<h1>")
	escHTML(b, p.Title)
	b.WriteString("</h1>\n")
	if p.Intro != "" {
		b.WriteString("<p class=\"intro\">")
		escHTML(b, p.Intro)
		b.WriteString("</p>")
	}
	b.WriteByte('\n')
	writeAlerts(b, p.Messages)
	if p.NeedsJS {
		b.WriteString("<noscript><p class=\"alert alert-info\" role=\"status\">")
		escHTML(b, cat.T(lang, "hera.flow.needs_js", nil))
		b.WriteString("</p></noscript>")
	}
	for i := range p.Forms {
		f := &p.Forms[i]
		b.WriteString("\n<form id=\"")
		escHTML(b, f.ID)
		b.WriteString("\" class=\"flow-form\" action=\"")
		escURL(b, f.Action)
		b.WriteString("\" method=\"post\">")
		if f.Heading != "" {
			b.WriteString("<h2>")
			escHTML(b, f.Heading)
			b.WriteString("</h2>")
		}
		for j := range f.Items {
			writeItem(b, &f.Items[j])
		}
		if p.Kind == kratos.Login && f.Group == "all" && p.ForgotPassword {
			b.WriteString("\n<button type=\"submit\" class=\"link-button\" formaction=\"/recovery/start\" formnovalidate>")
			escHTML(b, cat.T(lang, "hera.flow.forgot_password", nil))
			b.WriteString("</button>")
		}
		if c := p.Captcha; c != nil {
			b.WriteString("<div class=\"")
			escHTML(b, c.Class)
			b.WriteString("\" data-sitekey=\"")
			escHTML(b, c.SiteKey)
			b.WriteByte('"')
			if c.Action != "" {
				// html/template treats data-action as a URL.
				b.WriteString(" data-action=\"")
				escURL(b, c.Action)
				b.WriteByte('"')
			}
			b.WriteString("></div>")
		}
		b.WriteString("\n</form>")
	}
	if len(p.Links) > 0 {
		b.WriteString("<nav class=\"links\" aria-label=\"")
		escHTML(b, cat.T(lang, "hera.flow.other_options", nil))
		b.WriteString("\">")
		for _, l := range p.Links {
			writeLink(b, l.Href, l.Text)
		}
		b.WriteString("</nav>")
	}
	b.WriteByte('\n')
}

// writeItem writes one form item.
func writeItem(b *bytes.Buffer, it *Item) {
	switch it.Kind {
	case "hidden":
		b.WriteString("<input type=\"hidden\" name=\"")
		escHTML(b, it.Name)
		b.WriteString("\" value=\"")
		escHTML(b, it.Value)
		b.WriteByte('"')
		optAttr(b, " data-hera-onload=\"", it.OnLoad)
		b.WriteByte('>')
		trailingAlerts(b, it.Messages)
	case "input":
		openField(b, "field", it.Invalid)
		writeLabel(b, it)
		b.WriteString("\n<input id=\"")
		escHTML(b, it.ID)
		b.WriteString("\" name=\"")
		escHTML(b, it.Name)
		b.WriteString("\" type=\"")
		escHTML(b, it.Type)
		b.WriteString("\" value=\"")
		escHTML(b, it.Value)
		b.WriteByte('"')
		flag(b, it.Required, " required")
		flag(b, it.Disabled, " disabled")
		optAttr(b, " autocomplete=\"", it.Autocomplete)
		optAttr(b, " pattern=\"", it.Pattern)
		if it.MaxLength != 0 {
			b.WriteString(" maxlength=\"")
			writeInt(b, it.MaxLength)
			b.WriteByte('"')
		}
		flag(b, it.Invalid, " aria-invalid=\"true\"")
		optAttr(b, " aria-describedby=\"", it.DescribedBy)
		b.WriteString(">\n")
		writeAlerts(b, it.Messages)
		b.WriteString("</div>")
	case "checkbox":
		openField(b, "field check", it.Invalid)
		b.WriteString("\n<input id=\"")
		escHTML(b, it.ID)
		b.WriteString("\" name=\"")
		escHTML(b, it.Name)
		b.WriteString("\" type=\"checkbox\" value=\"true\"")
		flag(b, it.Checked, " checked")
		flag(b, it.Required, " required")
		flag(b, it.Disabled, " disabled")
		flag(b, it.Invalid, " aria-invalid=\"true\"")
		optAttr(b, " aria-describedby=\"", it.DescribedBy)
		b.WriteByte('>')
		writeLabel(b, it)
		b.WriteByte('\n')
		writeAlerts(b, it.Messages)
		b.WriteString("</div>")
	case "select":
		openField(b, "field", it.Invalid)
		writeLabel(b, it)
		b.WriteString("\n<select id=\"")
		escHTML(b, it.ID)
		b.WriteString("\" name=\"")
		escHTML(b, it.Name)
		b.WriteByte('"')
		flag(b, it.Required, " required")
		flag(b, it.Disabled, " disabled")
		flag(b, it.Invalid, " aria-invalid=\"true\"")
		optAttr(b, " aria-describedby=\"", it.DescribedBy)
		b.WriteByte('>')
		for _, o := range it.Options {
			b.WriteString("<option value=\"")
			escHTML(b, o.Value)
			b.WriteByte('"')
			flag(b, o.Selected, " selected")
			b.WriteByte('>')
			escHTML(b, o.Label)
			b.WriteString("</option>")
		}
		b.WriteString("\n</select>\n")
		writeAlerts(b, it.Messages)
		b.WriteString("</div>")
	case "submit":
		openButton(b, "submit", it)
		if it.Primary {
			b.WriteString(" class=\"primary\"")
		} else {
			b.WriteString(" class=\"secondary\"")
		}
		flag(b, it.NoValidate, " formnovalidate")
		closeButton(b, it)
	case "trigger":
		openButton(b, "button", it)
		b.WriteString(" class=\"secondary needs-js\" data-hera-trigger=\"")
		escHTML(b, it.Trigger)
		b.WriteByte('"')
		optAttr(b, " data-hera-onload=\"", it.OnLoad)
		closeButton(b, it)
	case "img":
		b.WriteString("\n<figure class=\"node-img\"><img id=\"")
		escHTML(b, it.ID)
		b.WriteString("\" src=\"")
		escURLTrusted(b, string(it.Src)) // checked by safeImageSrc
		b.WriteString("\" alt=\"")
		if it.Label != "" {
			escHTML(b, it.Label)
		} else {
			escHTML(b, it.Alt)
		}
		b.WriteByte('"')
		if it.Width != 0 {
			b.WriteString(" width=\"")
			writeInt(b, it.Width)
			b.WriteByte('"')
		}
		if it.Height != 0 {
			b.WriteString(" height=\"")
			writeInt(b, it.Height)
			b.WriteByte('"')
		}
		b.WriteByte('>')
		if it.Label != "" {
			b.WriteString("<figcaption>")
			escHTML(b, it.Label)
			b.WriteString("</figcaption>")
		}
		b.WriteString("</figure>\n")
		writeAlerts(b, it.Messages)
	case "a":
		b.WriteString("\n<p><a id=\"")
		escHTML(b, it.ID)
		b.WriteString("\" href=\"")
		escURL(b, it.Href)
		b.WriteString("\">")
		escHTML(b, it.Text)
		b.WriteString("</a></p>")
		trailingAlerts(b, it.Messages)
	case "text":
		openNodeText(b, it)
		b.WriteString("<code>")
		escHTML(b, it.Text)
		b.WriteString("</code></div>\n")
		writeAlerts(b, it.Messages)
	case "secrets":
		openNodeText(b, it)
		b.WriteString("<ul class=\"secrets\">")
		for _, s := range it.Secrets {
			b.WriteString("<li><code>")
			escHTML(b, s)
			b.WriteString("</code></li>")
		}
		b.WriteString("</ul></div>")
		trailingAlerts(b, it.Messages)
	case "div":
		b.WriteString("\n<div id=\"")
		escHTML(b, it.ID)
		b.WriteByte('"')
		optAttr(b, " class=\"", it.Class)
		b.WriteString("></div>")
		trailingAlerts(b, it.Messages)
	}
}

// openButton starts a button: "\n<button type="typ" name="…" value="…"".
func openButton(b *bytes.Buffer, typ string, it *Item) {
	b.WriteString("\n<button type=\"")
	b.WriteString(typ)
	b.WriteString("\" name=\"")
	escHTML(b, it.Name)
	b.WriteString("\" value=\"")
	escHTML(b, it.Value)
	b.WriteByte('"')
}

// closeButton ends a button: its common attributes, label and messages.
func closeButton(b *bytes.Buffer, it *Item) {
	flag(b, it.Disabled, " disabled")
	optAttr(b, " aria-describedby=\"", it.DescribedBy)
	b.WriteByte('>')
	escHTML(b, it.Label)
	b.WriteString("</button>\n")
	writeAlerts(b, it.Messages)
}

// openField starts a field's wrapper: "\n<div class="field[ invalid]">".
func openField(b *bytes.Buffer, class string, invalid bool) {
	b.WriteString("\n<div class=\"")
	b.WriteString(class)
	if invalid {
		b.WriteString(" invalid")
	}
	b.WriteString("\">")
}

// writeLabel writes the item's <label>, on its own line.
func writeLabel(b *bytes.Buffer, it *Item) {
	b.WriteString("\n<label for=\"")
	escHTML(b, it.ID)
	b.WriteString("\">")
	escHTML(b, it.Label)
	b.WriteString("</label>")
}

func openNodeText(b *bytes.Buffer, it *Item) {
	b.WriteString("\n<div class=\"node-text\" id=\"")
	escHTML(b, it.ID)
	b.WriteString("\">")
	if it.Label != "" {
		b.WriteString("<p class=\"text-label\">")
		escHTML(b, it.Label)
		b.WriteString("</p>")
	}
}

// trailingAlerts writes an item's messages on the lines after it, if any.
func trailingAlerts(b *bytes.Buffer, as []Alert) {
	if len(as) > 0 {
		b.WriteByte('\n')
		writeAlerts(b, as)
	}
}

func flag(b *bytes.Buffer, on bool, s string) {
	if on {
		b.WriteString(s)
	}
}
