package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// checkOAuth2Provider: Hera answers Hydra's login challenges itself, so
// Kratos's own Hydra integration (oauth2_provider.url) must be off. Kratos
// tells whether it is by how it answers a sign-in that carries a
// login_challenge: without it, it refuses to read the parameter; with it,
// it asks Hydra for the (made-up) challenge and fails there.
func (d *doctor) checkOAuth2Provider(ctx context.Context) Result {
	const id = "kratos.oauth2_provider"
	u := d.kratosPublic("/self-service/login/browser?" + url.Values{"login_challenge": {"hera-doctor-" + randomHex(8)}}.Encode())
	a, err := d.do(ctx, http.MethodGet, u, nil, "application/json", nil)
	if err != nil {
		return Result{Check: id, Status: Skip, Message: "Kratos's oauth2_provider is not checked: " + err.Error()}
	}
	var e kratosError
	_ = json.Unmarshal(a.body, &e)
	switch {
	case strings.Contains(e.Error.Reason, "oauth2_provider.url is invalid or unset"):
		return Result{Check: id, Status: Pass,
			Message: "Kratos leaves Hydra's login challenges to Hera (oauth2_provider is unset)"}
	case strings.Contains(e.Error.Reason, "OAuth 2.0 Login Challenge"):
		fix := "# remove oauth2_provider (url, headers, override_return_to) from kratos.yml,\n" +
			"# and unset OAUTH2_PROVIDER_URL; Hydra sends sign-ins to Hera instead (hydra.yml):\n" +
			yaml([]string{"urls", "login"}, d.hera+"/login")
		return Result{
			Check: id, Status: Fail,
			Message: "Kratos has oauth2_provider set: it would answer Hydra's login challenges itself when a sign-in carries one, " +
				"past Hera's checks of Hydra's requests (remembered logins, deactivated identities, single sign-out); Hera answers them",
			Setting: "oauth2_provider.url (kratos.yml; environment OAUTH2_PROVIDER_URL)",
			Fix:     fix,
		}
	}
	return Result{Check: id, Status: Skip,
		Message: fmt.Sprintf("Kratos's oauth2_provider is not checked: a sign-in with a login_challenge was answered %d %s", a.StatusCode, describeError(a))}
}
