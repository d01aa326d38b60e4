package deploy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/brand"
	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/i18n"
	"github.com/heraproject/hera/internal/stack/stacktest"
	"github.com/heraproject/hera/internal/tracing"
)

var update = flag.Bool("update", false, "rewrite the golden manifests in testdata/chart")

// The Helm the chart is tested with, built from the Go module proxy into
// bin/helm-<version>/ the first time (a few minutes), stamped as Helm's
// Makefile stamps its releases: its version, and the Kubernetes version of
// its client-go (k8s.io/client-go v0.37), which `helm template` assumes and
// lint's deprecation rules check against.
const (
	helmVersion    = "v3.22.0"
	helmKubeMinor  = "37"
	chartDir       = "deploy/helm/hera"
	chartNamespace = "auth"
)

// The values files of testdata/chart the chart renders; each has a golden
// <name>.golden.
var chartCases = []string{"default", "production", "existing-secret", "files"}

// Go runtime variables a deployment may set besides Hera's own
// (docs/operations.md).
var goRuntimeVars = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"}

func TestChartLint(t *testing.T) {
	helm := helmBinary(t)
	root := stacktest.RepoRoot(t)
	for _, c := range chartCases {
		out, err := runHelm(root, helm, "lint", "--strict", chartDir, "-f", valuesFile(c))
		if err != nil {
			t.Errorf("helm lint with %s: %v\n%s", c, err, out)
		}
	}
}

// TestChartGolden compares the rendered manifests with testdata/chart/*.golden
// (go test ./deploy -run ChartGolden -update rewrites them).
func TestChartGolden(t *testing.T) {
	helm := helmBinary(t)
	root := stacktest.RepoRoot(t)
	for _, c := range chartCases {
		got := renderChart(t, root, helm, "-f", valuesFile(c))
		golden := filepath.Join(root, "deploy", "testdata", "chart", c+".golden")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test ./deploy -run ChartGolden -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s renders differently from %s (look at the difference, then -update):\n%s", c, golden, lineDiff(want, got))
		}
	}
}

// TestChartManifests checks what every rendering must hold: the probes, the
// restricted security context, only variables Hera knows, secrets only as
// files, a configuration Hera accepts, and no in-memory lockout store across
// replicas.
func TestChartManifests(t *testing.T) {
	helm := helmBinary(t)
	root := stacktest.RepoRoot(t)
	for _, c := range chartCases {
		t.Run(c, func(t *testing.T) {
			objs := decodeManifests(t, helm, renderChart(t, root, helm, "-f", valuesFile(c)))
			checkRelease(t, objs)
		})
	}
}

// TestChartRefuses checks the configurations the chart will not render, and
// that it says why.
func TestChartRefuses(t *testing.T) {
	helm := helmBinary(t)
	root := stacktest.RepoRoot(t)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"memory-replicas", []string{"-f", valuesFile("memory-replicas")},
			"replicaCount=2 with lockout.store=memory: every replica would count failures on its own"},
		{"memory-autoscaling", []string{"-f", valuesFile("memory-autoscaling")},
			"autoscaling.maxReplicas=3 with lockout.store=memory"},
		{"unknown-store", []string{"--set", "lockout.store=disk"}, "at '/lockout/store': value must be one of 'memory', 'postgres', 'redis'"},
		{"redis-without-url", []string{"--set", "lockout.store=redis"}, "lockout.store=redis needs secrets.lockoutRedisUrl"},
		{"postgres-without-dsn", []string{"--set", "lockout.store=postgres"}, "lockout.store=postgres needs secrets.lockoutPostgresDsn"},
		{"captcha-without-secret", []string{"--set", "captcha.provider=turnstile", "--set", "captcha.siteKey=k"}, "captcha.provider needs secrets.captchaSecret"},
		{"secret-in-config", []string{"--set", "config.HERA_CAPTCHA_SECRET=x"}, "config.HERA_CAPTCHA_SECRET is a secret"},
		{"managed-in-config", []string{"--set", "config.HERA_LISTEN=0.0.0.0:80"}, "the chart sets HERA_LISTEN"},
		{"unknown-existing-key", []string{"--set", "secret.enabled=false", "--set", "secret.nameOverride=s", "--set", "secret.existingKeys={HERA_NOPE}"},
			"HERA_NOPE is not one of Hera's secret settings"},
		{"monitor-without-metrics", []string{"--set", "serviceMonitor.enabled=true", "--set", "metrics.enabled=false"}, "serviceMonitor.enabled needs metrics.enabled"},
		{"locales-and-config", []string{"--set", "locales.pl.hera\\.language\\.name=Polski", "--set", "config.HERA_LOCALES_DIR=/x"},
			"config.HERA_LOCALES_DIR: the chart sets it for `locales`"},
		{"brand-css-and-config", []string{"--set", "brandCSS=a{}", "--set", "config.HERA_BRAND_CSS_FILE=/x"},
			"config.HERA_BRAND_CSS_FILE: the chart sets it for `brandCSS`"},
		{"brand-assets-and-config", []string{"--set", "brandAssets.logo\\.svg=PHN2Zy8+", "--set", "config.HERA_BRAND_ASSETS_DIR=/x"},
			"config.HERA_BRAND_ASSETS_DIR: the chart sets it for `brandAssets`"},
		{"brand-asset-name", []string{"--set", "brandAssets.\\.env=PHN2Zy8+"}, "'.env' does not match pattern"},
		{"brand-asset-not-base64", []string{"--set", "brandAssets.logo\\.svg=<svg/>"}, "at '/brandAssets/logo.svg': '<svg/>' does not match pattern"},
		// values.schema.json: names the chart does not read, and wrong types.
		{"ory-base-path", []string{"--set", "basePath=/auth"}, "at '': additional properties 'basePath' not allowed"},
		{"ory-browser-url", []string{"--set", "kratosBrowserUrl=https://kratos.example.com"}, "additional properties 'kratosBrowserUrl' not allowed"},
		{"node-port", []string{"--set", "service.nodePort=30080"}, "at '/service': additional properties 'nodePort' not allowed"},
		{"typo", []string{"--set", "image.tga=v1"}, "at '/image': additional properties 'tga' not allowed"},
		{"unknown-variable", []string{"--set", "config.HERA_BRAND_NAM=Example"}, "at '/config': additional properties 'HERA_BRAND_NAM' not allowed"},
		{"locale-name", []string{"--set", "locales.pl_PL=x"}, "'pl_PL' does not match pattern '^[a-z]{2,3}$'"},
		{"wrong-type", []string{"--set-string", "replicaCount=2"}, "at '/replicaCount': got string, want integer"},
		{"not-a-url", []string{"--set", "kratosAdminUrl=kratos-admin"}, "at '/kratosAdminUrl'"},
		// Chart.yaml's kubeVersion: autoscaling/v2 needs Kubernetes 1.23.
		{"old-kubernetes", []string{"--kube-version", "1.22.0"}, "chart requires kubeVersion: >=1.23.0-0 which is incompatible with Kubernetes v1.22.0"},
	} {
		args := append([]string{"template", "hera", chartDir, "--namespace", chartNamespace, "--kube-version", "1." + helmKubeMinor + ".0"}, c.args...)
		out, err := runHelm(root, helm, args...)
		if err == nil {
			t.Errorf("%s: rendered, want refused with %q", c.name, c.want)
			continue
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%s: refused with\n%s\nwant %q", c.name, out, c.want)
		}
	}
}

// TestChartKnowsEverySecret checks the chart's list of secret settings
// (hera.secretVars in _helpers.tpl) is Hera's: a new secret needs a
// `secrets` value, so that it is passed as a file.
func TestChartKnowsEverySecret(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), chartDir, "templates", "_helpers.tpl"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), `{{- define "hera.secretVars" -}}`)
	block, _, ok2 := strings.Cut(block, "{{- end }}")
	if !ok || !ok2 {
		t.Fatal(`no {{- define "hera.secretVars" -}} … {{- end }} in _helpers.tpl`)
	}
	var chart, hera []string
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		_, name, _ := strings.Cut(l, ":")
		chart = append(chart, strings.TrimSpace(name))
	}
	for _, v := range config.Vars() {
		if v.Secret {
			hera = append(hera, v.Name)
		}
	}
	slices.Sort(chart)
	slices.Sort(hera)
	if !slices.Equal(chart, hera) {
		t.Errorf("the chart's secrets %v are not Hera's %v: add a `secrets` value for each (values.yaml, hera.secretVars, docs/deploying.md)", chart, hera)
	}
}

// tracingVars are the OpenTelemetry variables Hera reads
// (internal/tracing), each OTEL_EXPORTER_OTLP_X also as
// OTEL_EXPORTER_OTLP_TRACES_X.
func tracingVars() []string {
	var names []string
	for _, v := range tracing.Vars() {
		names = append(names, v.Name)
		if x, ok := strings.CutPrefix(v.Name, "OTEL_EXPORTER_OTLP_"); ok {
			names = append(names, "OTEL_EXPORTER_OTLP_TRACES_"+x)
		}
	}
	return names
}

// TestChartSchema checks values.schema.json against the chart: every
// value a template reads is in it (so none is refused), `config` takes
// exactly Hera's variables (internal/config and internal/tracing), and
// every values file of these tests and a parent chart's `global` pass it.
// That it refuses what it does not know is TestChartRefuses's.
func TestChartSchema(t *testing.T) {
	helm := helmBinary(t)
	root := stacktest.RepoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	if schema["$schema"] != "http://json-schema.org/draft-07/schema#" || schema["additionalProperties"] != false {
		t.Errorf("values.schema.json: want draft-07 and no additional properties at the top")
	}

	// Every .Values path the templates read.
	templates, err := filepath.Glob(filepath.Join(root, chartDir, "templates", "*"))
	if err != nil {
		t.Fatal(err)
	}
	read := regexp.MustCompile(`\.Values((?:\.[A-Za-z0-9_]+)+)`)
	paths := map[string]bool{}
	for _, f := range templates {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range read.FindAllStringSubmatch(string(b), -1) {
			paths[strings.TrimPrefix(m[1], ".")] = true
		}
	}
	if len(paths) < 50 {
		t.Fatalf("only %d value paths found in the templates", len(paths))
	}
	for p := range paths {
		node := schema
		for _, key := range strings.Split(p, ".") {
			props, _ := node["properties"].(map[string]any)
			next, ok := props[key].(map[string]any)
			if !ok {
				if node["additionalProperties"] == false || props != nil {
					t.Errorf("the templates read .Values.%s, which values.schema.json does not have", p)
				}
				break
			}
			node = next
		}
	}

	// config: Hera's variables, the tracing ones included.
	props, _ := schema["properties"].(map[string]any)
	cfg, _ := props["config"].(map[string]any)
	cfgProps, _ := cfg["properties"].(map[string]any)
	got := slices.Sorted(maps.Keys(cfgProps))
	var want []string
	for _, v := range config.Vars() {
		want = append(want, v.Name)
	}
	want = append(want, tracingVars()...)
	slices.Sort(want)
	if !slices.Equal(got, want) || cfg["additionalProperties"] != false {
		t.Errorf("values.schema.json's config takes %v, want Hera's variables %v and nothing else", got, want)
	}

	// Every values file of the tests passes the schema (some are refused
	// by the templates, on purpose), and so does a parent chart's global.
	files, err := filepath.Glob(filepath.Join(root, "deploy", "testdata", "chart", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		out, _ := runHelm(root, helm, "template", "hera", chartDir, "--kube-version", "1."+helmKubeMinor+".0", "-f", f)
		if bytes.Contains(out, []byte("schema")) {
			t.Errorf("%s does not pass values.schema.json:\n%s", filepath.Base(f), out)
		}
	}
	renderChart(t, root, helm, "--set", "global.imageRegistry=registry.example.com")
}

// TestChartVersion checks the chart deploys the release of the VERSION
// file, from where releases are published: appVersion is VERSION, and the
// default image is ghcr.io/heraproject/hera:VERSION.
func TestChartVersion(t *testing.T) {
	helm := helmBinary(t)
	root := stacktest.RepoRoot(t)
	version := readVersion(t, root)
	chart := chartYAML(t, root)
	if chart["appVersion"] != version {
		t.Errorf("Chart.yaml's appVersion is %q, VERSION is %q: they move together (docs/releasing.md)", chart["appVersion"], version)
	}
	if want := releaseRepository + ":" + version; defaultImage(t, root, helm) != want {
		t.Errorf("the chart's default image is %s, want %s", defaultImage(t, root, helm), want)
	}
}

// releaseRepository is where releases are published (scripts/release.sh's
// IMAGE, the chart's image.repository).
const releaseRepository = "ghcr.io/heraproject/hera"

var semver = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// readVersion is the VERSION file: Hera's release.
func readVersion(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(b))
	if !semver.MatchString(v) || string(b) != v+"\n" {
		t.Fatalf("VERSION is %q: want one line, a semantic version without v (0.2.0)", b)
	}
	return v
}

// chartYAML reads Chart.yaml's top-level scalars (quotes removed).
func chartYAML(t *testing.T, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "-") {
			continue
		}
		m[k] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return m
}

// defaultImage is the image the chart's Deployment runs with its default
// values.
func defaultImage(t *testing.T, root, helm string) string {
	t.Helper()
	return defaultImageOf(t, root, helm, chartDir)
}

func valuesFile(name string) string {
	return filepath.Join("deploy", "testdata", "chart", name+".yaml")
}

// helmBinary returns bin/helm-<helmVersion>/helm, building it first if it is
// missing or another version.
func helmBinary(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(stacktest.RepoRoot(t), "bin", "helm-"+helmVersion)
	bin := filepath.Join(dir, "helm")
	// Helm reports the version only when stamped as below (a plain build
	// says "v3.22"); -trimpath keeps the ldflags out of the build info.
	if out, err := exec.Command(bin, "version", "--template", "{{.Version}}").Output(); err == nil && string(out) == helmVersion {
		return bin
	}
	t.Logf("building helm %s into %s (first time: a few minutes) ...", helmVersion, dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".helm-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ldflags := "-s -w -X helm.sh/helm/v3/internal/version.version=" + helmVersion
	for _, pkg := range []string{"helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"} {
		ldflags += fmt.Sprintf(" -X %s.k8sVersionMajor=1 -X %s.k8sVersionMinor=%s", pkg, pkg, helmKubeMinor)
	}
	cmd := exec.Command("go", "install", "-trimpath", "-ldflags", ldflags, "helm.sh/helm/v3/cmd/helm@"+helmVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building helm: %v\n%s", err, out)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, "helm"), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func runHelm(root, helm string, args ...string) ([]byte, error) {
	cmd := exec.Command(helm, args...)
	cmd.Dir = root
	// Helm's own state stays out of the user's home.
	tmp, err := os.MkdirTemp("", "helm-home-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+tmp, "HELM_CONFIG_HOME="+tmp, "HELM_DATA_HOME="+tmp)
	return cmd.CombinedOutput()
}

// renderChart runs helm template for release "hera" in chartNamespace.
func renderChart(t *testing.T, root, helm string, args ...string) []byte {
	t.Helper()
	args = append([]string{"template", "hera", chartDir, "--namespace", chartNamespace, "--kube-version", "1." + helmKubeMinor + ".0"}, args...)
	out, err := runHelm(root, helm, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// decodeManifests turns rendered YAML into objects. The module has no YAML
// decoder of its own, so Helm's (sigs.k8s.io/yaml, the one kubectl uses)
// does it: a throwaway chart reads the manifests with fromYaml and writes
// them out with toJson.
func decodeManifests(t *testing.T, helm string, manifests []byte) []object {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: yaml2json\nversion: 0.0.0\n",
		"in.yaml":    string(manifests),
		"templates/out.json": `{{- $docs := list }}
{{- range regexSplit "(?m)^---[ \\t]*$" (.Files.Get "in.yaml") -1 }}
{{- $doc := fromYaml . }}
{{- if hasKey $doc "Error" }}{{ fail (get $doc "Error") }}{{ end }}
{{- if $doc }}{{ $docs = append $docs $doc }}{{ end }}
{{- end }}
{{ dict "items" $docs | toJson }}
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runHelm(dir, helm, "template", "x", ".")
	if err != nil {
		t.Fatalf("decoding the manifests: %v\n%s", err, out)
	}
	// Helm wants an object in each template's output: {"items": [...]}.
	i := bytes.Index(out, []byte(`{"items":`))
	if i < 0 {
		t.Fatalf("decoding the manifests: no JSON in\n%s", out)
	}
	var list struct{ Items []object }
	if err := json.Unmarshal(out[i:], &list); err != nil {
		t.Fatalf("decoding the manifests: %v\n%s", err, out)
	}
	return list.Items
}

// object is the part of a Kubernetes object the checks read.
type object struct {
	Kind     string
	Metadata struct {
		Name      string
		Namespace string
		Labels    map[string]string
	}
	Data       map[string]string // Secret, ConfigMap
	BinaryData map[string]string // ConfigMap, base64
	Spec       json.RawMessage
}

type deploymentSpec struct {
	Replicas *int
	Selector struct{ MatchLabels map[string]string }
	Template struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct {
			AutomountServiceAccountToken *bool
			SecurityContext              securityContext
			Containers                   []container
			Volumes                      []struct {
				Name   string
				Secret *struct {
					SecretName string
					Items      []struct{ Key, Path string }
				}
				ConfigMap *struct {
					Name  string
					Items []struct{ Key, Path string }
				}
			}
		}
	}
}

type securityContext struct {
	RunAsNonRoot             *bool
	RunAsUser                *int64
	RunAsGroup               *int64
	ReadOnlyRootFilesystem   *bool
	AllowPrivilegeEscalation *bool
	Privileged               *bool
	Capabilities             *struct{ Add, Drop []string }
	SeccompProfile           *struct{ Type string }
}

type container struct {
	Name string
	Env  []struct {
		Name      string
		Value     *string
		ValueFrom json.RawMessage
	}
	Ports []struct {
		Name          string
		ContainerPort int
	}
	LivenessProbe, ReadinessProbe *struct {
		HTTPGet *struct {
			Path string
			Port any
		}
	}
	SecurityContext securityContext
	VolumeMounts    []struct {
		Name, MountPath string
		ReadOnly        bool
	}
}

type serviceSpec struct {
	Selector map[string]string
	Ports    []struct {
		Name       string
		Port       int
		TargetPort any
	}
}

func checkRelease(t *testing.T, objs []object) {
	t.Helper()
	byKind := map[string][]object{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
		if o.Metadata.Namespace != chartNamespace {
			t.Errorf("%s %s: namespace %q, want the release's", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
		}
	}
	if len(byKind["Deployment"]) != 1 || len(byKind["Service"]) != 1 {
		t.Fatalf("want one Deployment and one Service, got %d and %d", len(byKind["Deployment"]), len(byKind["Service"]))
	}
	var d deploymentSpec
	unmarshalSpec(t, byKind["Deployment"][0], &d)
	pod := d.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Probes on the http port.
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 4455 {
		t.Errorf("container port http = %d, want 4455", ports["http"])
	}
	for _, p := range []struct {
		name string
		got  *struct {
			HTTPGet *struct {
				Path string
				Port any
			}
		}
		path string
	}{{"liveness", c.LivenessProbe, "/health/alive"}, {"readiness", c.ReadinessProbe, "/health/ready"}} {
		if p.got == nil || p.got.HTTPGet == nil || p.got.HTTPGet.Path != p.path || p.got.HTTPGet.Port != "http" {
			t.Errorf("%s probe %+v, want GET %s on port http", p.name, p.got, p.path)
		}
	}

	// The restricted security context.
	checkSecurityContext(t, pod.SecurityContext, c.SecurityContext)
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the service account token is mounted: Hera does not use the Kubernetes API")
	}

	// Only Hera's variables (and the Go runtime's), each once; secrets
	// only as files from the Secret.
	known := map[string]config.Var{}
	for _, v := range config.Vars() {
		known[v.Name] = v
	}
	for _, name := range tracingVars() {
		known[name] = config.Var{Name: name}
	}
	env := map[string]string{}
	mounts := map[string]string{} // mount path → volume
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	secretVolumes := map[string]map[string]string{} // volume → path → key
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = map[string]string{}
			for _, it := range v.Secret.Items {
				secretVolumes[v.Name][it.Path] = it.Key
			}
		}
	}
	files := map[string]string{} // variable → the Secret's key
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		if e.Value == nil {
			t.Errorf("env %s is not a plain value (%s)", e.Name, e.ValueFrom)
			continue
		}
		env[e.Name] = *e.Value
		base, isFile := strings.CutSuffix(e.Name, "_FILE")
		v, ok := known[e.Name]
		switch {
		case ok && v.Secret:
			t.Errorf("the secret %s is an environment variable's value, want %s_FILE", e.Name, e.Name)
		case ok:
		case isFile && known[base].Name != "":
			dir, file := filepath.Split(*e.Value)
			vol, mounted := mounts[filepath.Clean(dir)]
			key, inSecret := secretVolumes[vol][file]
			if !mounted || !inSecret {
				t.Errorf("%s=%s is not a file of a mounted Secret", e.Name, *e.Value)
			}
			files[base] = key
		case slices.Contains(goRuntimeVars, e.Name):
		default:
			t.Errorf("env %s is not a variable Hera knows (internal/config)", e.Name)
		}
	}
	if env["HERA_LISTEN"] != fmt.Sprintf("0.0.0.0:%d", ports["http"]) {
		t.Errorf("HERA_LISTEN=%q, want 0.0.0.0:%d", env["HERA_LISTEN"], ports["http"])
	}

	// Hera accepts the configuration: the environment as rendered, the
	// secret files from the chart's Secret (placeholders for an existing
	// one).
	var secret map[string]string
	if s := byKind["Secret"]; len(s) == 1 {
		secret = s[0].Data
	}
	dir := t.TempDir()
	load := maps.Clone(env)
	for name, key := range files {
		val := placeholderSecret(name)
		if secret != nil {
			b, err := base64.StdEncoding.DecodeString(secret[key])
			if err != nil || len(b) == 0 {
				t.Errorf("the Secret has no %s for %s_FILE", key, name)
			}
			val = string(b)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(val), 0o600); err != nil {
			t.Fatal(err)
		}
		load[name+"_FILE"] = p
	}
	// Files from the chart's ConfigMaps (locales, brandCSS, brandAssets)
	// are written where the test can read them, as the pod would see them.
	configMaps := byKind["ConfigMap"]
	for _, v := range pod.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		var data map[string]string
		for _, cm := range configMaps {
			if cm.Metadata.Name != v.ConfigMap.Name {
				continue
			}
			data = maps.Clone(cm.Data)
			if data == nil {
				data = map[string]string{}
			}
			for k, b64 := range cm.BinaryData {
				b, err := base64.StdEncoding.DecodeString(b64)
				if err != nil {
					t.Errorf("ConfigMap %s: binaryData %s: %v", cm.Metadata.Name, k, err)
				}
				data[k] = string(b)
			}
		}
		if data == nil {
			t.Errorf("volume %s: no ConfigMap %s in the release", v.Name, v.ConfigMap.Name)
			continue
		}
		var mountPath string
		for p, vol := range mounts {
			if vol == v.Name {
				mountPath = p
			}
		}
		if mountPath == "" {
			t.Errorf("volume %s is not mounted", v.Name)
			continue
		}
		local := filepath.Join(dir, "configmap-"+v.Name)
		if err := os.MkdirAll(local, 0o755); err != nil {
			t.Fatal(err)
		}
		items := v.ConfigMap.Items
		if items == nil { // every key, as Kubernetes mounts it
			for _, k := range slices.Sorted(maps.Keys(data)) {
				items = append(items, struct{ Key, Path string }{k, k})
			}
		}
		for _, it := range items {
			body, ok := data[it.Key]
			if !ok {
				t.Errorf("volume %s: ConfigMap %s has no key %s", v.Name, v.ConfigMap.Name, it.Key)
			}
			if err := os.WriteFile(filepath.Join(local, it.Path), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for name, val := range env {
			if rest, ok := strings.CutPrefix(val, mountPath); ok && (rest == "" || rest[0] == '/') {
				load[name] = local + rest
			}
		}
	}
	if _, err := config.Load(func(k string) string { return load[k] }); err != nil {
		t.Errorf("Hera refuses the rendered configuration:\n%v", err)
	}
	if d := load["HERA_LOCALES_DIR"]; d != "" {
		if _, err := i18n.Load(d); err != nil {
			t.Errorf("Hera refuses the locale files:\n%v", err)
		}
	}
	if d := load["HERA_BRAND_ASSETS_DIR"]; d != "" {
		if a, err := brand.LoadAssets(d); err != nil || a.Len() == 0 {
			t.Errorf("Hera refuses the brand assets (%v files):\n%v", a, err)
		}
	}

	// The replica rule.
	replicas := 1
	if d.Replicas != nil {
		replicas = *d.Replicas
	}
	hpas := byKind["HorizontalPodAutoscaler"]
	if len(hpas) > 0 {
		if d.Replicas != nil {
			t.Error("the Deployment sets replicas although an autoscaler manages them")
		}
		var h struct {
			MaxReplicas    int
			ScaleTargetRef struct{ Kind, Name string }
		}
		unmarshalSpec(t, hpas[0], &h)
		replicas = h.MaxReplicas
		if h.ScaleTargetRef.Kind != "Deployment" || h.ScaleTargetRef.Name != byKind["Deployment"][0].Metadata.Name {
			t.Errorf("the autoscaler scales %+v", h.ScaleTargetRef)
		}
	}
	if store := env["HERA_LOCKOUT_STORE"]; (store == "" || store == "memory") && replicas > 1 {
		t.Errorf("%d replicas with the memory lockout store", replicas)
	}

	// The Service reaches the pods' http port, and metrics when they are on.
	var svc serviceSpec
	unmarshalSpec(t, byKind["Service"][0], &svc)
	if !subset(svc.Selector, d.Template.Metadata.Labels) || !subset(d.Selector.MatchLabels, d.Template.Metadata.Labels) {
		t.Errorf("selectors %v / %v do not match the pod labels %v", svc.Selector, d.Selector.MatchLabels, d.Template.Metadata.Labels)
	}
	svcPorts := map[string]any{}
	for _, p := range svc.Ports {
		svcPorts[p.Name] = p.TargetPort
	}
	if svcPorts["http"] != "http" {
		t.Errorf("Service port http targets %v", svcPorts["http"])
	}
	if listen := env["HERA_METRICS_LISTEN"]; listen != "" {
		_, port, _ := net.SplitHostPort(listen)
		if port != fmt.Sprint(ports["metrics"]) || svcPorts["metrics"] != "metrics" {
			t.Errorf("HERA_METRICS_LISTEN=%s, container port metrics %d, Service metrics → %v", listen, ports["metrics"], svcPorts["metrics"])
		}
	}
	for _, sm := range byKind["ServiceMonitor"] {
		var s struct {
			Endpoints []struct{ Port, Path string }
			Selector  struct{ MatchLabels map[string]string }
		}
		unmarshalSpec(t, sm, &s)
		if len(s.Endpoints) != 1 || s.Endpoints[0].Port != "metrics" || s.Endpoints[0].Path != "/metrics" || svcPorts["metrics"] == nil {
			t.Errorf("ServiceMonitor endpoints %+v, want the Service's metrics port at /metrics", s.Endpoints)
		}
		if !subset(s.Selector.MatchLabels, byKind["Service"][0].Metadata.Labels) {
			t.Errorf("ServiceMonitor selects %v, not the Service (%v)", s.Selector.MatchLabels, byKind["Service"][0].Metadata.Labels)
		}
	}
	for _, pdb := range byKind["PodDisruptionBudget"] {
		var s struct {
			Selector struct{ MatchLabels map[string]string }
		}
		unmarshalSpec(t, pdb, &s)
		if !subset(s.Selector.MatchLabels, d.Template.Metadata.Labels) {
			t.Errorf("PodDisruptionBudget selects %v, not the pods", s.Selector.MatchLabels)
		}
	}
	for _, ing := range byKind["Ingress"] {
		var s struct {
			Rules []struct {
				HTTP struct {
					Paths []struct {
						Backend struct {
							Service struct {
								Name string
								Port struct{ Name string }
							}
						}
					}
				}
			}
		}
		unmarshalSpec(t, ing, &s)
		for _, r := range s.Rules {
			for _, p := range r.HTTP.Paths {
				if b := p.Backend.Service; b.Name != byKind["Service"][0].Metadata.Name || svcPorts[b.Port.Name] == nil {
					t.Errorf("Ingress backend %+v is not the Service's port", b)
				}
			}
		}
	}
}

func checkSecurityContext(t *testing.T, pod, c securityContext) {
	t.Helper()
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	is := func(n *int64, v int64) bool { return n != nil && *n == v }
	if !isTrue(pod.RunAsNonRoot) || !is(pod.RunAsUser, 65532) {
		t.Errorf("pod securityContext: runAsNonRoot %v, runAsUser %v, want true and 65532", deref(pod.RunAsNonRoot), deref(pod.RunAsUser))
	}
	if !isTrue(c.RunAsNonRoot) || !is(c.RunAsUser, 65532) || !isTrue(c.ReadOnlyRootFilesystem) || !isFalse(c.AllowPrivilegeEscalation) || isTrue(c.Privileged) {
		t.Errorf("container securityContext: runAsNonRoot %v, runAsUser %v, readOnlyRootFilesystem %v, allowPrivilegeEscalation %v, privileged %v",
			deref(c.RunAsNonRoot), deref(c.RunAsUser), deref(c.ReadOnlyRootFilesystem), deref(c.AllowPrivilegeEscalation), deref(c.Privileged))
	}
	if c.Capabilities == nil || !slices.Equal(c.Capabilities.Drop, []string{"ALL"}) || len(c.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and nothing added", c.Capabilities)
	}
	for _, sc := range []securityContext{pod, c} {
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
			t.Errorf("seccompProfile %+v, want RuntimeDefault on the pod and the container", sc.SeccompProfile)
		}
	}
}

// placeholderSecret is a valid value for a secret an existing Secret holds.
func placeholderSecret(name string) string {
	switch name {
	case "HERA_LOCKOUT_POSTGRES_DSN":
		return "postgres://hera:secret@db/hera"
	case "HERA_LOCKOUT_REDIS_URL":
		return "redis://:secret@redis:6379/0"
	}
	return strings.Repeat("s", 32)
}

func unmarshalSpec(t *testing.T, o object, v any) {
	t.Helper()
	if err := json.Unmarshal(o.Spec, v); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Metadata.Name, err)
	}
}

func subset(sub, of map[string]string) bool {
	if len(sub) == 0 {
		return false
	}
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// lineDiff shows the lines of got that differ from want, with line numbers.
func lineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n- %s\n+ %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
