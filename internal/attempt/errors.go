package attempt

// Error is a submission Hera refuses before anything reaches Kratos: the
// request is ambiguous or names no account while carrying a secret.
type Error struct {
	// Status is the HTTP status (400, or 415 for the content type).
	Status int
	// Reason is for the log: which rule refused it (never a field's value).
	Reason string
	// Message is the key of the text the user sees (see the i18n catalog).
	Message string
}

func (e *Error) Error() string { return "attempt: " + e.Reason }

// Message keys (internal/i18n/locales).
const (
	msgBadRequest  = "hera.notice.bad_request"
	msgContentType = "hera.notice.bad_request"
	msgNoAccount   = "hera.notice.no_account"
	msgTwoAccounts = "hera.notice.two_accounts"
	msgNoMethod    = "hera.notice.unknown_method"
)

func badRequest(reason, msg string) *Error {
	return &Error{Status: 400, Reason: reason, Message: msg}
}
