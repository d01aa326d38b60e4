{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "hera.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart's unless it already contains it. */}}
{{- define "hera.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hera.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hera.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hera.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hera.labels" -}}
helm.sh/chart: {{ include "hera.chart" . }}
{{ include "hera.selectorLabels" . }}
app.kubernetes.io/version: {{ include "hera.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hera.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "hera.secretName" -}}
{{- .Values.secret.nameOverride | default (include "hera.fullname" .) }}
{{- end }}

{{/* The ConfigMap of `locales` and `brandCSS`, and where its files are
mounted. */}}
{{- define "hera.filesName" -}}
{{- printf "%s-files" (include "hera.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hera.localesDir" -}}
/etc/hera/locales
{{- end }}

{{- define "hera.brandDir" -}}
/etc/hera/brand
{{- end }}

{{/* The ConfigMap of `brandAssets`, a ConfigMap of its own (each holds at
most 1 MiB), and where it is mounted. */}}
{{- define "hera.brandAssetsName" -}}
{{- printf "%s-brand-assets" (include "hera.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hera.brandAssetsDir" -}}
/etc/hera/brand-assets
{{- end }}

{{/* Where the Secret's keys are mounted, one file per key. */}}
{{- define "hera.secretDir" -}}
/etc/hera/secrets
{{- end }}

{{/* Each `secrets` value and the Hera variable it sets. */}}
{{- define "hera.secretVars" -}}
captchaSecret: HERA_CAPTCHA_SECRET
lockoutPostgresDsn: HERA_LOCKOUT_POSTGRES_DSN
lockoutRedisUrl: HERA_LOCKOUT_REDIS_URL
lockoutKeySecret: HERA_LOCKOUT_KEY_SECRET
deviceCookieSecret: HERA_DEVICE_COOKIE_SECRET
oauth2TokenHookSecret: HERA_OAUTH2_TOKEN_HOOK_SECRET
kratosWebhookSecret: HERA_KRATOS_WEBHOOK_SECRET
smtpPassword: HERA_SMTP_PASSWORD
{{- end }}

{{/* The Secret's keys, sorted: the variables of the `secrets` set, or
secret.existingKeys. Returned as JSON ({"keys": [...]}). */}}
{{- define "hera.secretKeys" -}}
{{- $keys := list }}
{{- if .Values.secret.enabled }}
{{- range $value, $name := include "hera.secretVars" . | fromYaml }}
{{- if index $.Values.secrets $value }}
{{- $keys = append $keys $name }}
{{- end }}
{{- end }}
{{- else }}
{{- $keys = .Values.secret.existingKeys }}
{{- end }}
{{- dict "keys" (sortAlpha $keys) | toJson }}
{{- end }}

{{/* The variables the chart sets from its own values. */}}
{{- define "hera.managedVars" -}}
{{- list "HERA_LISTEN" "HERA_PUBLIC_URL" "KRATOS_PUBLIC_URL" "KRATOS_ADMIN_URL" "HYDRA_ADMIN_URL" "HERA_TRUSTED_PROXIES" "HERA_ALLOWED_RETURN_URLS" "HERA_LOCKOUT_STORE" "HERA_CAPTCHA_PROVIDER" "HERA_CAPTCHA_SITE_KEY" "HERA_METRICS_LISTEN" | toJson }}
{{- end }}

{{/* hera.validate fails the rendering of a configuration Hera would
refuse, or one that would weaken it. */}}
{{- define "hera.validate" -}}
{{- $store := .Values.lockout.store }}
{{- if not (has $store (list "memory" "postgres" "redis")) }}
{{- fail (printf "lockout.store=%q: want memory, postgres or redis" $store) }}
{{- end }}
{{- $replicas := int .Values.replicaCount }}
{{- $what := printf "replicaCount=%d" $replicas }}
{{- if .Values.autoscaling.enabled }}
{{- $replicas = int .Values.autoscaling.maxReplicas }}
{{- $what = printf "autoscaling.maxReplicas=%d" $replicas }}
{{- end }}
{{- if and (eq $store "memory") (gt $replicas 1) }}
{{- fail (printf "%s with lockout.store=memory: every replica would count failures on its own, letting an attacker make %d times the guesses the lockout policy allows. Use lockout.store=redis or postgres (with secrets.lockoutRedisUrl or secrets.lockoutPostgresDsn), or one replica." $what $replicas) }}
{{- end }}
{{- if not .Values.kratosPublicUrl }}
{{- fail "kratosPublicUrl is required (KRATOS_PUBLIC_URL)" }}
{{- end }}
{{- if not .Values.kratosAdminUrl }}
{{- fail "kratosAdminUrl is required (KRATOS_ADMIN_URL)" }}
{{- end }}
{{- if and (not .Values.secret.enabled) (not .Values.secret.nameOverride) }}
{{- fail "secret.enabled=false needs secret.nameOverride, the name of the existing Secret" }}
{{- end }}
{{- $known := values (include "hera.secretVars" . | fromYaml) }}
{{- $keys := (include "hera.secretKeys" . | fromJson).keys }}
{{- range $keys }}
{{- if not (has . $known) }}
{{- fail (printf "secret.existingKeys: %s is not one of Hera's secret settings (%s)" . (sortAlpha $known | join ", ")) }}
{{- end }}
{{- end }}
{{- if and (eq $store "postgres") (not (has "HERA_LOCKOUT_POSTGRES_DSN" $keys)) }}
{{- fail "lockout.store=postgres needs secrets.lockoutPostgresDsn (or HERA_LOCKOUT_POSTGRES_DSN in secret.existingKeys)" }}
{{- end }}
{{- if and (eq $store "redis") (not (has "HERA_LOCKOUT_REDIS_URL" $keys)) }}
{{- fail "lockout.store=redis needs secrets.lockoutRedisUrl (or HERA_LOCKOUT_REDIS_URL in secret.existingKeys)" }}
{{- end }}
{{- if .Values.captcha.provider }}
{{- if not .Values.captcha.siteKey }}
{{- fail "captcha.provider needs captcha.siteKey" }}
{{- end }}
{{- if not (has "HERA_CAPTCHA_SECRET" $keys) }}
{{- fail "captcha.provider needs secrets.captchaSecret (or HERA_CAPTCHA_SECRET in secret.existingKeys)" }}
{{- end }}
{{- end }}
{{- $managed := include "hera.managedVars" . | fromJsonArray }}
{{- range $name, $_ := .Values.config }}
{{- if or (has $name $managed) (has (trimSuffix "_FILE" $name) $managed) }}
{{- fail (printf "config.%s: the chart sets %s from its own values (docs/deploying.md)" $name (trimSuffix "_FILE" $name)) }}
{{- end }}
{{- if has $name $known }}
{{- fail (printf "config.%s is a secret: put it in secrets (or the existing Secret)" $name) }}
{{- end }}
{{- if has (trimSuffix "_FILE" $name) $keys }}
{{- fail (printf "config.%s: the chart already passes %s from its Secret" $name (trimSuffix "_FILE" $name)) }}
{{- end }}
{{- end }}
{{- if and .Values.locales (hasKey .Values.config "HERA_LOCALES_DIR") }}
{{- fail "config.HERA_LOCALES_DIR: the chart sets it for `locales`; use one or the other" }}
{{- end }}
{{- if and .Values.brandCSS (hasKey .Values.config "HERA_BRAND_CSS_FILE") }}
{{- fail "config.HERA_BRAND_CSS_FILE: the chart sets it for `brandCSS`; use one or the other" }}
{{- end }}
{{- if and .Values.brandAssets (hasKey .Values.config "HERA_BRAND_ASSETS_DIR") }}
{{- fail "config.HERA_BRAND_ASSETS_DIR: the chart sets it for `brandAssets`; use one or the other" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- end }}
