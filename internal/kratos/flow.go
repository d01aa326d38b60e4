package kratos

import (
	"encoding/json"
	"time"
)

// Kind names a self-service flow.
type Kind string

// The self-service flows Hera renders.
const (
	Login        Kind = "login"
	Registration Kind = "registration"
	Recovery     Kind = "recovery"
	Verification Kind = "verification"
	Settings     Kind = "settings"
)

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, bool) {
	switch k := Kind(s); k {
	case Login, Registration, Recovery, Verification, Settings:
		return k, true
	}
	return "", false
}

// Flow is a Kratos self-service flow as its public API returns it. Only the
// fields Hera uses are decoded.
type Flow struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"` // browser or api
	ExpiresAt    time.Time `json:"expires_at"`
	IssuedAt     time.Time `json:"issued_at"`
	RequestURL   string    `json:"request_url"`
	ReturnTo     string    `json:"return_to,omitempty"`
	UI           UI        `json:"ui"`
	State        string    `json:"state,omitempty"`
	Refresh      bool      `json:"refresh,omitempty"`
	RequestedAAL string    `json:"requested_aal,omitempty"`
	Active       string    `json:"active,omitempty"`

	OAuth2LoginChallenge string              `json:"oauth2_login_challenge,omitempty"`
	OAuth2LoginRequest   *OAuth2LoginRequest `json:"oauth2_login_request,omitempty"`

	Identity *Identity `json:"identity,omitempty"` // settings
}

// OAuth2LoginRequest is the part of Hydra's login request Kratos copies into
// a login flow started with login_challenge.
type OAuth2LoginRequest struct {
	Challenge   string       `json:"challenge"`
	Client      OAuth2Client `json:"client"`
	OIDCContext struct {
		LoginHint string   `json:"login_hint,omitempty"`
		UILocales []string `json:"ui_locales,omitempty"`
	} `json:"oidc_context"`
}

// OAuth2Client is what a login page shows of an OAuth2 client.
type OAuth2Client struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	LogoURI    string `json:"logo_uri"`
	ClientURI  string `json:"client_uri"`
	PolicyURI  string `json:"policy_uri"`
	TosURI     string `json:"tos_uri"`
}

// UI is a flow's form: where it posts and what it shows.
type UI struct {
	Action   string    `json:"action"`
	Method   string    `json:"method"`
	Nodes    []Node    `json:"nodes"`
	Messages []Message `json:"messages,omitempty"`
}

// Node is one UI element.
type Node struct {
	Type       string     `json:"type"` // input, img, a, script, text, div
	Group      string     `json:"group"`
	Attributes Attributes `json:"attributes"`
	Messages   []Message  `json:"messages,omitempty"`
	Meta       struct {
		Label *Message `json:"label,omitempty"`
	} `json:"meta"`
}

// Attributes is the union of every node type's attributes; NodeType says
// which fields apply.
type Attributes struct {
	NodeType string `json:"node_type"`

	// input
	Name           string          `json:"name,omitempty"`
	Type           string          `json:"type,omitempty"` // also script's MIME type
	Value          json.RawMessage `json:"value,omitempty"`
	Required       bool            `json:"required,omitempty"`
	Disabled       bool            `json:"disabled,omitempty"`
	Autocomplete   string          `json:"autocomplete,omitempty"`
	Pattern        string          `json:"pattern,omitempty"`
	MaxLength      int             `json:"maxlength,omitempty"`
	Label          *Message        `json:"label,omitempty"`
	OnClickTrigger string          `json:"onclickTrigger,omitempty"`
	OnLoadTrigger  string          `json:"onloadTrigger,omitempty"`
	Options        []Option        `json:"options,omitempty"`

	// img, a, text, script, div
	ID     string            `json:"id,omitempty"`
	Src    string            `json:"src,omitempty"`
	Width  int               `json:"width,omitempty"`
	Height int               `json:"height,omitempty"`
	Href   string            `json:"href,omitempty"`
	Title  *Message          `json:"title,omitempty"`
	Text   *Message          `json:"text,omitempty"`
	Async  bool              `json:"async,omitempty"`
	Cross  string            `json:"crossorigin,omitempty"`
	Integ  string            `json:"integrity,omitempty"`
	Refpol string            `json:"referrerpolicy,omitempty"`
	Class  string            `json:"class,omitempty"`
	Data   map[string]string `json:"data,omitempty"`
}

// Option is one choice of a select input.
type Option struct {
	Value json.RawMessage `json:"value"`
	Label *Message        `json:"label,omitempty"`
}

// Message is a Kratos UI text: an ID (stable across languages), the English
// text, its type (info, error, success) and the values it interpolates.
type Message struct {
	ID      int64          `json:"id"`
	Text    string         `json:"text"`
	Type    string         `json:"type"`
	Context map[string]any `json:"context,omitempty"`
}

// Message IDs Hera acts on.
const (
	MsgInvalidCredentials = 4000006 // wrong identifier or password, whether or not the account exists
)

// Identity is a Kratos identity.
type Identity struct {
	ID                  string              `json:"id"`
	SchemaID            string              `json:"schema_id"`
	State               string              `json:"state,omitempty"`
	Traits              json.RawMessage     `json:"traits"`
	VerifiableAddresses []VerifiableAddress `json:"verifiable_addresses,omitempty"`
	// Credentials are the identity's sign-in methods by type, with their
	// identifiers: only the admin API names them, and Hera never asks it
	// for their secrets.
	Credentials map[string]Credential `json:"credentials,omitempty"`
	// What the data export hands over besides the above (the admin API
	// and whoami name them).
	RecoveryAddresses []struct {
		Value string `json:"value"`
		Via   string `json:"via"`
	} `json:"recovery_addresses,omitempty"`
	MetadataPublic json.RawMessage `json:"metadata_public,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	// Admin is what Hera reads of the admin API's metadata_admin (nothing
	// else of it is kept: it is the operator's, not the owner's).
	Admin AdminMetadata `json:"metadata_admin,omitzero"`
}

// VerifiableAddress is an identity's e-mail address or phone number and
// whether its owner proved it theirs.
type VerifiableAddress struct {
	Value      string     `json:"value"`
	Verified   bool       `json:"verified"`
	Via        string     `json:"via"`
	Status     string     `json:"status,omitempty"`
	VerifiedAt *time.Time `json:"verified_at,omitempty"`
}

// Credential is one of an identity's sign-in methods as the admin API
// names it: its identifiers and dates, never its configuration.
type Credential struct {
	Identifiers []string  `json:"identifiers"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// AdminMetadata is the part of an identity's metadata_admin Hera reads.
type AdminMetadata struct {
	// Temporary marks an identity made for a check and deleted again
	// (hera doctor's): its sign-ins are nobody's to be told of.
	Temporary bool `json:"temporary,omitempty"`
}

// UnmarshalJSON reads metadata_admin leniently: it is free-form, and a
// value of another shape means no marks rather than an identity that
// cannot be read.
func (m *AdminMetadata) UnmarshalJSON(b []byte) error {
	var v struct {
		Temporary json.RawMessage `json:"temporary"`
	}
	*m = AdminMetadata{}
	if json.Unmarshal(b, &v) == nil {
		m.Temporary = string(v.Temporary) == "true"
	}
	return nil
}

// Session is a Kratos session.
type Session struct {
	ID                          string    `json:"id"`
	Active                      bool      `json:"active"`
	ExpiresAt                   time.Time `json:"expires_at"`
	AuthenticatedAt             time.Time `json:"authenticated_at"`
	IssuedAt                    time.Time `json:"issued_at"`
	AuthenticatorAssuranceLevel string    `json:"authenticator_assurance_level"`
	AuthenticationMethods       []struct {
		Method      string    `json:"method"`
		AAL         string    `json:"aal"`
		CompletedAt time.Time `json:"completed_at"`
	} `json:"authentication_methods"`
	Identity *Identity `json:"identity"`
	Devices  []struct {
		ID        string `json:"id"`
		IPAddress string `json:"ip_address"`
		UserAgent string `json:"user_agent"`
		Location  string `json:"location"`
	} `json:"devices,omitempty"`
}

// ContinueWith is one entry of a successful submission's continue_with list.
type ContinueWith struct {
	Action string `json:"action"`
	Flow   *struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	} `json:"flow,omitempty"`
	RedirectBrowserTo string `json:"redirect_browser_to,omitempty"`
}

// ErrorFlow is a Kratos error flow (GET /self-service/errors?id=).
type ErrorFlow struct {
	ID    string `json:"id"`
	Error struct {
		Code    int    `json:"code"`
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		ID      string `json:"id"`
	} `json:"error"`
}
