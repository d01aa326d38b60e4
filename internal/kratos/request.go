package kratos

import (
	"net/http"

	"github.com/golang/gddo/httputil"
)

// jsonOffers and htmlDefault are Kratos v1.3.1's content negotiation of
// self-service answers (x/isjsonrequest.go).
var jsonOffers = []string{"text/html", "text/*", "*/*", "application/json"}

const htmlDefault = "text/html"

// IsJSONRequest is Kratos's rule (x.IsJSONRequest) for answering a browser
// flow's request with JSON instead of a redirect: its Accept header
// negotiates JSON over HTML, or its Content-Type is exactly
// "application/json". API flows are answered with JSON whatever the
// request says. The negotiation is the library Kratos uses
// (github.com/golang/gddo/httputil, the version Kratos pins), so Hera
// decides as Kratos would for every Accept header a client can send.
func IsJSONRequest(h http.Header) bool {
	return httputil.NegotiateContentType(&http.Request{Header: h}, jsonOffers, htmlDefault) == "application/json" ||
		h.Get("Content-Type") == "application/json"
}
