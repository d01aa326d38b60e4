package doctor

// ActivityOptions is what the doctor checks of the account's activity.
type ActivityOptions struct {
	// KratosWebhooks: HERA_KRATOS_WEBHOOK_SECRET is set, so Hera takes
	// Kratos's web hooks at /hooks/kratos/….
	KratosWebhooks bool
}

// CheckActivity reports whether Hera records what only Kratos sees:
// without HERA_KRATOS_WEBHOOK_SECRET Hera has no hook endpoint, and each
// account's activity lacks its sign-ins, sign-up, settings changes and
// recovery, and the alert mails that follow from them.
//
// Whether Kratos really calls the hooks cannot be seen from outside:
// Kratos's configuration is not readable through its APIs, and with
// response.ignore Kratos's answers do not depend on Hera's.
func CheckActivity(o *ActivityOptions) Result {
	if o.KratosWebhooks {
		return Result{Check: "activity.kratos_webhooks", Status: Pass,
			Message: "Kratos's web hooks have a key (HERA_KRATOS_WEBHOOK_SECRET): Hera records each account's sign-ins and settings changes when Kratos is configured to call them"}
	}
	return Result{
		Check: "activity.kratos_webhooks", Status: Warn,
		Message: "HERA_KRATOS_WEBHOOK_SECRET is not set: activity from Kratos is not recorded (sign-ins, sign-ups, settings changes, recovery; and the alert mails they call for); " +
			"see docs/kratos-setup.md#activity-and-alerts-kratoss-web-hooks",
		Setting: "HERA_KRATOS_WEBHOOK_SECRET (Hera's environment) and the same key in Kratos's web hooks (kratos.yml)",
		Fix: "HERA_KRATOS_WEBHOOK_SECRET_FILE=/run/secrets/hera-kratos-webhook   # openssl rand -hex 32\n" +
			"# and in kratos.yml, each after-hook of login, registration, settings and recovery:\n" +
			"#   - hook: web_hook\n" +
			"#     config:\n" +
			"#       url: http://hera:4455/hooks/kratos/login\n" +
			"#       method: POST\n" +
			"#       body: file:///etc/config/kratos/hera-hook.jsonnet\n" +
			"#       response: {ignore: true}\n" +
			"#       auth: {type: api_key, config: {name: Authorization, value: Bearer <the key>, in: header}}",
	}
}
