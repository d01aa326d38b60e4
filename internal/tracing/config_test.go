package tracing_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/tracing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mustFromEnv(t *testing.T, m map[string]string) tracing.Config {
	t.Helper()
	c, err := tracing.FromEnv(env(m))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOffByDefault(t *testing.T) {
	for name, m := range map[string]map[string]string{
		"nothing set": {},
		// Settings without an exporter or endpoint do not switch it on.
		"only a service name":  {"OTEL_SERVICE_NAME": "idp", "OTEL_TRACES_SAMPLER": "always_on"},
		"exporter none":        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
		"sdk disabled":         {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"},
		"sdk disabled (TRUE)":  {"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
		"disabled, bad values": {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon"},
		// Values for other programs sharing the environment are not
		// Hera's business while its tracing is off.
		"off, bad sampler": {"OTEL_TRACES_SAMPLER": "jaeger_remote"},
	} {
		t.Run(name, func(t *testing.T) {
			if c := mustFromEnv(t, m); c.Enabled {
				t.Errorf("tracing on with %v", m)
			}
		})
	}
}

func TestSwitchedOn(t *testing.T) {
	for name, m := range map[string]map[string]string{
		"exporter otlp":          {"OTEL_TRACES_EXPORTER": "otlp"},
		"exporter OTLP":          {"OTEL_TRACES_EXPORTER": "OTLP"},
		"generic endpoint":       {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
		"traces endpoint":        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"},
		"sdk disabled false":     {"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"},
		"endpoint, exporter set": {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector"},
	} {
		t.Run(name, func(t *testing.T) {
			c := mustFromEnv(t, m)
			if !c.Enabled {
				t.Fatalf("tracing off with %v", m)
			}
			if c.ServiceName != "hera" || c.Sampler != tracing.SamplerParentBasedAlwaysOn || c.SamplerArg != 1 ||
				c.Timeout != 10*time.Second || c.Compression != "none" {
				t.Errorf("defaults: %+v", c)
			}
		})
	}
}

func TestProtocolAndEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name         string
		env          map[string]string
		protocol     string
		endpoint     string
		wantInsecure bool
	}{
		{"default", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, tracing.ProtocolHTTP, "http://localhost:4318/v1/traces", true},
		{"default grpc", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, tracing.ProtocolGRPC, "http://localhost:4317", true},
		{"generic endpoint gets the traces path", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example.com:4318"}, tracing.ProtocolHTTP, "https://otel.example.com:4318/v1/traces", false},
		{"generic endpoint with a base path", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://gw.example.com/otlp/"}, tracing.ProtocolHTTP, "https://gw.example.com/otlp/v1/traces", false},
		{"traces endpoint as it is", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:9999/custom"}, tracing.ProtocolHTTP, "http://c:9999/custom", true},
		{"traces endpoint without a path", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:9999"}, tracing.ProtocolHTTP, "http://c:9999/", true},
		{"traces endpoint wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:1", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:2/t"}, tracing.ProtocolHTTP, "http://b:2/t", true},
		{"grpc endpoint", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4317"}, tracing.ProtocolGRPC, "https://c:4317/", false},
		{"traces protocol wins", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, tracing.ProtocolHTTP, "http://localhost:4318/v1/traces", true},
		{"protocol case", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "GRPC"}, tracing.ProtocolGRPC, "http://localhost:4317", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustFromEnv(t, tc.env)
			if c.Protocol != tc.protocol || c.Endpoint.String() != tc.endpoint {
				t.Errorf("got %s %s, want %s %s", c.Protocol, c.Endpoint, tc.protocol, tc.endpoint)
			}
			if insecure := c.Endpoint.Scheme == "http"; insecure != tc.wantInsecure {
				t.Errorf("plaintext %v, want %v", insecure, tc.wantInsecure)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	c := mustFromEnv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":               "otlp",
		"OTEL_EXPORTER_OTLP_HEADERS":         "x-generic=1",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS":  "x-api-key=s3cr%3Dt, x-team = idp ",
		"OTEL_EXPORTER_OTLP_TIMEOUT":         "2500",
		"OTEL_EXPORTER_OTLP_COMPRESSION":     "gzip",
		"OTEL_RESOURCE_ATTRIBUTES":           "deployment.environment.name=prod,service.name=ignored,service.namespace=auth",
		"OTEL_SERVICE_NAME":                  "hera-eu",
		"OTEL_TRACES_SAMPLER":                "ParentBased_TraceIdRatio",
		"OTEL_TRACES_SAMPLER_ARG":            "0.25",
		"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT":  "",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "",
	})
	if len(c.Headers) != 2 || c.Headers["x-api-key"] != "s3cr=t" || c.Headers["x-team"] != "idp" {
		t.Errorf("headers (traces-specific replace generic): %v", c.Headers)
	}
	if c.Timeout != 2500*time.Millisecond || c.Compression != "gzip" {
		t.Errorf("timeout %s, compression %s", c.Timeout, c.Compression)
	}
	if c.ServiceName != "hera-eu" || c.Attributes["deployment.environment.name"] != "prod" || c.Attributes["service.namespace"] != "auth" {
		t.Errorf("service %q, attributes %v", c.ServiceName, c.Attributes)
	}
	if _, ok := c.Attributes["service.name"]; ok {
		t.Error("service.name left among the attributes")
	}
	if c.Sampler != tracing.SamplerParentBasedTraceIDRatio || c.SamplerArg != 0.25 {
		t.Errorf("sampler %s %v", c.Sampler, c.SamplerArg)
	}

	c = mustFromEnv(t, map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs"})
	if c.ServiceName != "from-attrs" {
		t.Errorf("service.name from OTEL_RESOURCE_ATTRIBUTES: %q", c.ServiceName)
	}
}

// TestBadValuesNameTheVariable: every bad value stops Hera at start with
// the variable named, all problems at once, and never a header's value.
func TestBadValuesNameTheVariable(t *testing.T) {
	on := func(kv ...string) map[string]string {
		m := map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_SDK_DISABLED": "yes"}, "OTEL_SDK_DISABLED"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"}, "OTEL_TRACES_EXPORTER"},
		{on("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{on("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{on("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"), "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{on("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"), "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{on("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://user:pw@collector"), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{on("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector?x=1"), "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{on("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"), "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{on("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"), "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"},
		{on("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"), "OTEL_EXPORTER_OTLP_COMPRESSION"},
		{on("OTEL_EXPORTER_OTLP_HEADERS", "api-key"), "OTEL_EXPORTER_OTLP_HEADERS"},
		{on("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=%zz"), "OTEL_EXPORTER_OTLP_TRACES_HEADERS"},
		{on("OTEL_RESOURCE_ATTRIBUTES", "=x"), "OTEL_RESOURCE_ATTRIBUTES"},
		{on("OTEL_TRACES_SAMPLER", "jaeger_remote"), "OTEL_TRACES_SAMPLER"},
		{on("OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "1.5"), "OTEL_TRACES_SAMPLER_ARG"},
		{on("OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "half"), "OTEL_TRACES_SAMPLER_ARG"},
		{on("OTEL_EXPORTER_OTLP_CERTIFICATE", "/does/not/exist.pem"), "OTEL_EXPORTER_OTLP_CERTIFICATE"},
		{on("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/x.pem"), "OTEL_EXPORTER_OTLP_CLIENT_KEY: required"},
		{on("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/x.key"), "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: required"},
	} {
		c, err := tracing.FromEnv(env(tc.env))
		if err == nil {
			t.Errorf("%v accepted: %+v", tc.env, c)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: error %q does not start with %s", tc.env, err, tc.want)
		}
	}

	// All at once.
	_, err := tracing.FromEnv(env(on("OTEL_EXPORTER_OTLP_PROTOCOL", "x", "OTEL_TRACES_SAMPLER", "y", "OTEL_EXPORTER_OTLP_TIMEOUT", "z")))
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER", "OTEL_EXPORTER_OTLP_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v does not name %s", err, name)
		}
	}

	// Headers hold credentials: never in the error.
	_, err = tracing.FromEnv(env(on("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20tok3n,broken-s3cret")))
	if err == nil || strings.Contains(err.Error(), "tok3n") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("header error %q", err)
	}
}

func TestCertificates(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	ca := filepath.Join(dir, "ca.pem")
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	junk := filepath.Join(dir, "junk.pem")
	for p, b := range map[string][]byte{ca: certPEM, cert: certPEM, key: keyPEM, junk: []byte("not pem")} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := mustFromEnv(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":                  "https://collector:4318",
		"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE":        ca,
		"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE": cert,
		"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY":         key,
	})
	if c.TLS == nil || c.TLS.RootCAs == nil || len(c.TLS.Certificates) != 1 {
		t.Errorf("TLS %+v", c.TLS)
	}
	_, err := tracing.FromEnv(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c", "OTEL_EXPORTER_OTLP_CERTIFICATE": junk}))
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_CERTIFICATE") {
		t.Errorf("junk CA: %v", err)
	}
	_, err = tracing.FromEnv(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c",
		"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": cert, "OTEL_EXPORTER_OTLP_CLIENT_KEY": junk}))
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE") {
		t.Errorf("junk key: %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestDocumented fails when a variable is missing from docs/configuration.md.
func TestDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range tracing.Vars() {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("docs/configuration.md does not document %s", v.Name)
		}
	}
}
