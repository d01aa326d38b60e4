package doctor

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
)

// TestCheckActivity: without HERA_KRATOS_WEBHOOK_SECRET a warning that
// says what is not recorded and where the setup is documented, with the
// setting and a fix; with it a pass.
func TestCheckActivity(t *testing.T) {
	r := CheckActivity(&ActivityOptions{})
	if r.Check != "activity.kratos_webhooks" || r.Status != Warn ||
		!strings.Contains(r.Message, "activity from Kratos is not recorded") ||
		!strings.Contains(r.Message, "docs/kratos-setup.md#activity-and-alerts-kratoss-web-hooks") ||
		!strings.Contains(r.Setting, "HERA_KRATOS_WEBHOOK_SECRET") || !strings.Contains(r.Fix, "HERA_KRATOS_WEBHOOK_SECRET_FILE=") ||
		!strings.Contains(r.Fix, "hook: web_hook") {
		t.Errorf("unset: %+v", r)
	}
	if r := CheckActivity(&ActivityOptions{KratosWebhooks: true}); r.Check != "activity.kratos_webhooks" || r.Status != Pass {
		t.Errorf("set: %+v", r)
	}
}

// TestRunChecksActivity: Run adds the activity check last when asked,
// the report prints the warning with its setting and counts it, and
// leaves it out when not asked.
func TestRunChecksActivity(t *testing.T) {
	dead, _ := url.Parse("http://127.0.0.1:1")
	o := Options{PublicURL: dead, KratosPublicURL: dead, KratosAdminURL: dead, NoSignIn: true, Activity: &ActivityOptions{}}
	r := Run(context.Background(), o)
	last := r.Results[len(r.Results)-1]
	if last.Check != "activity.kratos_webhooks" || last.Status != Warn || r.Warned() < 1 {
		t.Errorf("last result %+v, %d warnings", last, r.Warned())
	}
	var out bytes.Buffer
	if err := r.Write(&out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "WARN HERA_KRATOS_WEBHOOK_SECRET is not set: activity from Kratos is not recorded") ||
		!strings.Contains(out.String(), "setting: HERA_KRATOS_WEBHOOK_SECRET") {
		t.Errorf("report:\n%s", out.String())
	}
	o.Activity = nil
	for _, res := range Run(context.Background(), o).Results {
		if res.Check == "activity.kratos_webhooks" {
			t.Errorf("checked without ActivityOptions: %+v", res)
		}
	}
}
