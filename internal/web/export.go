package web

import (
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraproject/hera/internal/activity"
	"github.com/heraproject/hera/internal/hydra"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/web/view"
)

// exportFormat names the download's layout, so that a reader can tell
// later versions apart.
const exportFormat = "hera.account-export/1"

// exportData is what the data export hands over (GDPR Art. 15 and 20):
// what Kratos keeps of the identity (traits, addresses, which sign-in
// methods exist and their identifiers, sessions), the apps it allowed
// (Hydra) and its activity. Never a secret: no password hash, no TOTP or
// WebAuthn key, no backup code, no token (the admin API is asked for no
// credential's configuration, and none is copied).
type exportData struct {
	Format            string          `json:"format"`
	ExportedAt        time.Time       `json:"exported_at"`
	Account           exportAccount   `json:"account"`
	Addresses         []exportAddress `json:"addresses"`
	SignInMethods     []exportMethod  `json:"sign_in_methods"`
	Sessions          []exportSession `json:"sessions"`
	SessionsTruncated bool            `json:"sessions_truncated,omitempty"`
	// Apps is absent when Hera answers no OAuth2 server (Hydra).
	Apps          *[]exportApp  `json:"apps,omitempty"`
	AppsTruncated bool          `json:"apps_truncated,omitempty"`
	Activity      []exportEvent `json:"activity"`
}

type exportAccount struct {
	ID             string          `json:"id"`
	SchemaID       string          `json:"schema_id"`
	State          string          `json:"state,omitempty"`
	CreatedAt      time.Time       `json:"created_at,omitzero"`
	UpdatedAt      time.Time       `json:"updated_at,omitzero"`
	Traits         json.RawMessage `json:"traits"`
	MetadataPublic json.RawMessage `json:"metadata_public,omitempty"`
}

// exportAddress is an e-mail address or phone number, with what Kratos
// uses it for.
type exportAddress struct {
	Value        string     `json:"value"`
	Via          string     `json:"via"`
	Verification bool       `json:"verification"` // one of the verifiable addresses
	Verified     bool       `json:"verified"`
	VerifiedAt   *time.Time `json:"verified_at,omitempty"`
	Status       string     `json:"status,omitempty"`
	Recovery     bool       `json:"recovery"` // account recovery goes to it
}

// exportMethod is one sign-in method: its type and identifiers only.
type exportMethod struct {
	Type        string    `json:"type"`
	Identifiers []string  `json:"identifiers"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

type exportSession struct {
	ID              string         `json:"id"`
	Active          bool           `json:"active"`
	AuthenticatedAt time.Time      `json:"authenticated_at,omitzero"`
	IssuedAt        time.Time      `json:"issued_at,omitzero"`
	ExpiresAt       time.Time      `json:"expires_at,omitzero"`
	AAL             string         `json:"aal,omitempty"`
	Methods         []string       `json:"methods"`
	Devices         []exportDevice `json:"devices"`
}

type exportDevice struct {
	IPAddress string `json:"ip_address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Location  string `json:"location,omitempty"`
}

type exportApp struct {
	ClientID  string     `json:"client_id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	GrantedAt *time.Time `json:"granted_at,omitempty"`
}

// exportEvent is an event as the export hands it over: without the
// identity (the export's own) and the device cookie's ID (Hera's key, no
// data of the person's), a stranger's address shortened as on /activity.
// The outer fields hide the embedded event's of the same JSON names.
type exportEvent struct {
	activity.Event
	Identity string `json:"identity,omitempty"`
	Device   string `json:"device,omitempty"`
}

// accountData is what the export reads, from Kratos, Hydra and the
// activity store.
type accountData struct {
	identity          *kratos.Identity
	sessions          []kratos.Session
	sessionsTruncated bool
	grants            []hydra.GrantedConsent
	appsTruncated     bool
	events            []activity.Event
	now               time.Time
}

// handleExportPage shows the account's data, readable, with the download,
// after a recent sign-in (like deletion: it hands the account over).
func handleExportPage(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.exportSession(w, r)
		if !ok {
			return
		}
		d, ok := s.readAccount(w, r, sess)
		if !ok {
			return
		}
		t := s.translator(r)
		v := s.exportView(d, s.reader(r, sess), t)
		p := &view.Page{Title: t.T("hera.export.title"), Lang: t.lang}
		s.render.page(w, r, http.StatusOK, p, view.Export(p, &v))
	})
}

// handleExportDownload answers the export as a JSON file, and records it
// in the account's activity.
func handleExportDownload(s *server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sess, ok := s.exportSession(w, r)
		if !ok {
			return
		}
		d, ok := s.readAccount(w, r, sess)
		if !ok {
			return
		}
		body, err := json.MarshalIndent(s.export(d, s.reader(r, sess)), "", "  ")
		if err != nil {
			s.errorPage(w, r, http.StatusInternalServerError, err)
			return
		}
		s.recordExport(r, sess)
		// The audit line carries the request id (from the context), never
		// whose data it was.
		s.Logger.InfoContext(ctx, "account data exported", "audit", "account_exported", "bytes", len(body))
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment",
			map[string]string{"filename": "account-data-" + d.now.UTC().Format("2006-01-02") + ".json"}))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// exportSession returns the browser's session if it signed in recently
// enough; otherwise it sends the browser to sign in (again), back to the
// export page.
func (s *server) exportSession(w http.ResponseWriter, r *http.Request) (*kratos.Session, bool) {
	sess, err := s.Kratos.Whoami(r.Context(), s.browser(r))
	if s.needSignIn(w, r, err, "/settings/export") {
		return nil, false
	}
	if !s.privileged(sess) {
		s.refreshFor(w, r, "/settings/export")
		return nil, false
	}
	return sess, true
}

// readAccount reads everything the export holds. A part that cannot be
// read fails the export (an export that silently lacks a part would
// mislead): the error page says which service failed.
func (s *server) readAccount(w http.ResponseWriter, r *http.Request, sess *kratos.Session) (*accountData, bool) {
	ctx := r.Context()
	id := sess.Identity.ID
	d := &accountData{now: s.now()}
	var err error
	if d.identity, err = s.Kratos.GetIdentity(ctx, id); err != nil {
		s.kratosFailure(w, r, err)
		return nil, false
	}
	if d.sessions, d.sessionsTruncated, err = s.Kratos.IdentitySessions(ctx, id); err != nil {
		s.kratosFailure(w, r, err)
		return nil, false
	}
	if s.Hydra != nil {
		if d.grants, d.appsTruncated, err = s.Hydra.ListConsentSessions(ctx, id); err != nil {
			s.hydraFailure(w, r, err)
			return nil, false
		}
	}
	if s.Activity != nil {
		if d.events, err = s.Activity.List(ctx, id, d.now, s.ActivityPolicy, 0); err != nil {
			s.activityUnavailable(w, r, err, "/settings/export")
			return nil, false
		}
	}
	return d, true
}

// recordExport records the download in the account's activity (package
// events, in the background: a store that does not answer is logged
// there; the data is the user's to have either way).
func (s *server) recordExport(r *http.Request, sess *kratos.Session) {
	if s.Events == nil {
		return
	}
	c := s.eventClient(r, sess.ID)
	if rd := s.reader(r, sess); len(rd.devices) > 0 {
		c.Device = rd.devices[0]
	}
	s.Events.Exported(sess.Identity.ID, c)
}

// export is the download's content.
func (s *server) export(d *accountData, rd reader) exportData {
	i := d.identity
	out := exportData{Format: exportFormat, ExportedAt: d.now.UTC(),
		Account: exportAccount{ID: i.ID, SchemaID: i.SchemaID, State: i.State, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
			Traits: i.Traits, MetadataPublic: nullless(i.MetadataPublic)},
		Addresses: exportAddresses(i), SignInMethods: []exportMethod{}, Sessions: []exportSession{},
		SessionsTruncated: d.sessionsTruncated, Activity: []exportEvent{}}
	for _, typ := range slices.Sorted(maps.Keys(i.Credentials)) {
		c := i.Credentials[typ]
		out.SignInMethods = append(out.SignInMethods, exportMethod{Type: typ, Identifiers: nonNil(c.Identifiers),
			CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
	}
	for _, ss := range d.sessions {
		es := exportSession{ID: ss.ID, Active: ss.Active, AuthenticatedAt: ss.AuthenticatedAt, IssuedAt: ss.IssuedAt,
			ExpiresAt: ss.ExpiresAt, AAL: ss.AuthenticatorAssuranceLevel, Methods: []string{}, Devices: []exportDevice{}}
		for _, m := range ss.AuthenticationMethods {
			es.Methods = append(es.Methods, m.Method)
		}
		for _, dv := range ss.Devices {
			es.Devices = append(es.Devices, exportDevice{IPAddress: dv.IPAddress, UserAgent: dv.UserAgent, Location: dv.Location})
		}
		out.Sessions = append(out.Sessions, es)
	}
	if s.Hydra != nil {
		apps := []exportApp{}
		for _, a := range mergeGrants(d.grants) {
			ea := exportApp{ClientID: a.client.ClientID, Name: a.client.DisplayName(), Scopes: nonNil(a.scopes)}
			if !a.at.IsZero() {
				at := a.at.UTC()
				ea.GrantedAt = &at
			}
			apps = append(apps, ea)
		}
		out.Apps, out.AppsTruncated = &apps, d.appsTruncated
	}
	for _, e := range d.events {
		ee := exportEvent{Event: e}
		ee.Event.Device = ""
		if rd.fromStranger(&e) {
			ee.IP = maskIP(e.IP)
		}
		out.Activity = append(out.Activity, ee)
	}
	return out
}

// exportAddresses are the identity's verifiable and recovery addresses,
// one entry per address.
func exportAddresses(i *kratos.Identity) []exportAddress {
	out := []exportAddress{}
	find := func(value, via string) *exportAddress {
		for k := range out {
			if out[k].Value == value && out[k].Via == via {
				return &out[k]
			}
		}
		out = append(out, exportAddress{Value: value, Via: via})
		return &out[len(out)-1]
	}
	for _, a := range i.VerifiableAddresses {
		e := find(a.Value, a.Via)
		e.Verification, e.Verified, e.Status = true, a.Verified, a.Status
		if a.VerifiedAt != nil && a.Verified {
			at := a.VerifiedAt.UTC()
			e.VerifiedAt = &at
		}
	}
	for _, a := range i.RecoveryAddresses {
		find(a.Value, a.Via).Recovery = true
	}
	return out
}

// exportView is the export page's model: the same data, readable.
func (s *server) exportView(d *accountData, rd reader, t translator) view.ExportView {
	i := d.identity
	v := view.ExportView{AccountID: i.ID, Profile: traitFacts(i.Traits), AppsOn: s.Hydra != nil,
		SessionsTruncated: d.sessionsTruncated, AppsTruncated: d.appsTruncated}
	if !i.CreatedAt.IsZero() {
		v.Created, v.CreatedText = i.CreatedAt.UTC().Format(time.RFC3339), s.catalog.FormatTime(t.lang, i.CreatedAt, "datetime")
	}
	for _, a := range exportAddresses(i) {
		note := []string{a.Via}
		if k := "hera.export.via." + a.Via; t.T(k) != k {
			note[0] = t.T(k)
		}
		if a.Verified {
			note = append(note, t.T("hera.export.verified"))
		} else {
			note = append(note, t.T("hera.export.not_verified"))
		}
		if a.Recovery {
			note = append(note, t.T("hera.export.recovery"))
		}
		v.Addresses = append(v.Addresses, view.AddressView{Value: a.Value, Note: strings.Join(note, ", ")})
	}
	// A credential's identifiers as a person knows them: the account's own
	// names and addresses, and a social sign-in's provider. Others — the
	// identity's ID (TOTP, backup codes), a passkey's random user handle,
	// a provider's subject — are no news to a person (the download has
	// them all).
	names := map[string]bool{}
	for _, f := range traitFacts(i.Traits) {
		names[strings.ToLower(f.Value)] = true
	}
	for _, typ := range slices.Sorted(maps.Keys(i.Credentials)) {
		var ids []string
		for _, id := range i.Credentials[typ].Identifiers {
			if typ == "oidc" || typ == "saml" {
				id, _, _ = strings.Cut(id, ":")
			} else if !names[strings.ToLower(id)] {
				continue
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		val := strings.Join(ids, ", ")
		if val == "" {
			val = t.T("hera.export.method_set")
		}
		v.Methods = append(v.Methods, view.Fact{Name: localGroupHeading(typ, t), Value: val})
	}
	for _, ss := range d.sessions {
		es := view.ExportSession{SessionView: s.sessionView(ss, t), Status: t.T("hera.export.session_ended")}
		if ss.Active {
			es.Status = t.T("hera.export.session_active")
		}
		v.Sessions = append(v.Sessions, es)
	}
	v.Apps = s.appViews(d.grants, t)
	v.Activity, v.Masked = s.activityEntries(d.events, rd, t, d.now)
	return v
}

// traitFacts lists an identity's traits as name and value, nested traits
// by their path ("name.first"), in a fixed order.
func traitFacts(raw json.RawMessage) []view.Fact {
	var traits map[string]any
	if json.Unmarshal(raw, &traits) != nil {
		return nil
	}
	var out []view.Fact
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(strings.TrimPrefix(prefix+"."+k, "."), v[k])
			}
		case []any:
			parts := make([]string, 0, len(v))
			for _, x := range v {
				parts = append(parts, factValue(x))
			}
			out = append(out, view.Fact{Name: prefix, Value: strings.Join(parts, ", ")})
		default:
			out = append(out, view.Fact{Name: prefix, Value: factValue(v)})
		}
	}
	walk("", traits)
	return out
}

func factValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprint(v)
}

// nullless drops a JSON null (Kratos's "no public metadata").
func nullless(raw json.RawMessage) json.RawMessage {
	if s := strings.TrimSpace(string(raw)); s == "" || s == "null" {
		return nil
	}
	return raw
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
