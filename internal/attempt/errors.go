package attempt

// Error is a submission Hera refuses before anything reaches Kratos: the
// request is ambiguous or names no account while carrying a secret.
type Error struct {
	// Status is the HTTP status (400, or 415 for the content type).
	Status int
	// Reason is for the log: which rule refused it (never a field's value).
	Reason string
	// Notice is the code of the message the user sees: no-account,
	// two-accounts, unknown-method, or "" for the generic one.
	Notice string
}

func (e *Error) Error() string { return "attempt: " + e.Reason }

func badRequest(reason, notice string) *Error {
	return &Error{Status: 400, Reason: reason, Notice: notice}
}
