package tracing

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// Protocols an OTLP exporter speaks.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Samplers, as OTEL_TRACES_SAMPLER names them.
const (
	SamplerAlwaysOn                = "always_on"
	SamplerAlwaysOff               = "always_off"
	SamplerTraceIDRatio            = "traceidratio"
	SamplerParentBasedAlwaysOn     = "parentbased_always_on"
	SamplerParentBasedAlwaysOff    = "parentbased_always_off"
	SamplerParentBasedTraceIDRatio = "parentbased_traceidratio"
)

// Config is how spans are made and where they go. The zero Config is off.
type Config struct {
	// Enabled switches tracing on; everything else is ignored without it.
	Enabled bool
	// Protocol is ProtocolGRPC or ProtocolHTTP.
	Protocol string
	// Endpoint is where spans are sent: for ProtocolHTTP the full URL
	// spans are posted to (…/v1/traces), for ProtocolGRPC its scheme
	// (http: plaintext, https: TLS) and host:port.
	Endpoint *url.URL
	// Headers go with every export (often a vendor's API key): never
	// logged.
	Headers map[string]string
	// Timeout bounds one export.
	Timeout time.Duration
	// Compression is "gzip" or "none".
	Compression string
	// TLS is the client configuration for an https endpoint: the CA and
	// client certificate of OTEL_EXPORTER_OTLP_*CERTIFICATE, or nil for
	// the system's roots.
	TLS *tls.Config
	// ServiceName is the resource's service.name.
	ServiceName string
	// Attributes are further resource attributes (OTEL_RESOURCE_ATTRIBUTES).
	Attributes map[string]string
	// Sampler is one of the Sampler… names; SamplerArg is the ratio of the
	// ratio-based ones.
	Sampler    string
	SamplerArg float64
}

// Var is one environment variable tracing honours, for --help and the
// documentation.
type Var struct {
	Name, Default, Help string
}

// Vars lists the variables FromEnv reads. Each OTEL_EXPORTER_OTLP_X also
// exists as OTEL_EXPORTER_OTLP_TRACES_X, which takes precedence.
func Vars() []Var {
	return []Var{
		{"OTEL_TRACES_EXPORTER", "", "otlp switches tracing on, none off; empty: on when an OTLP endpoint is set"},
		{"OTEL_SDK_DISABLED", "false", "true switches tracing off, whatever else is set"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318, grpc: http://localhost:4317", "collector base URL (http/protobuf appends /v1/traces; _TRACES_ENDPOINT is used as it is)"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", ProtocolHTTP, "grpc or http/protobuf"},
		{"OTEL_EXPORTER_OTLP_HEADERS", "", "key=value pairs, comma-separated, sent with every export (e.g. an API key)"},
		{"OTEL_EXPORTER_OTLP_TIMEOUT", "10000", "milliseconds one export may take"},
		{"OTEL_EXPORTER_OTLP_COMPRESSION", "none", "gzip or none"},
		{"OTEL_EXPORTER_OTLP_CERTIFICATE", "", "PEM file of the CA that signed an https collector's certificate"},
		{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "", "PEM file of Hera's client certificate (with _CLIENT_KEY)"},
		{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "", "PEM file of that certificate's private key"},
		{"OTEL_SERVICE_NAME", "hera", "the service.name of Hera's spans"},
		{"OTEL_RESOURCE_ATTRIBUTES", "", "further resource attributes as key=value pairs, comma-separated"},
		{"OTEL_TRACES_SAMPLER", SamplerParentBasedAlwaysOn, "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio"},
		{"OTEL_TRACES_SAMPLER_ARG", "1.0", "the ratio (0 to 1) of the traceidratio samplers"},
	}
}

// Usage prints the variables for --help.
func Usage(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Tracing (OpenTelemetry; off unless OTEL_TRACES_EXPORTER=otlp or an OTLP endpoint is set;")
	fmt.Fprintln(w, "each OTEL_EXPORTER_OTLP_X also as OTEL_EXPORTER_OTLP_TRACES_X, which wins; no _FILE forms;")
	fmt.Fprintln(w, "see docs/configuration.md#tracing-opentelemetry):")
	fmt.Fprintln(w)
	for _, v := range Vars() {
		def := "empty"
		if v.Default != "" {
			def = "default " + v.Default
		}
		fmt.Fprintf(w, "  %-37s %s (%s)\n", v.Name, v.Help, def)
	}
}

// FromEnv reads the standard OpenTelemetry variables (Vars) through
// getenv. Tracing is on when OTEL_TRACES_EXPORTER is otlp, or when it is
// unset and OTEL_EXPORTER_OTLP_ENDPOINT or _TRACES_ENDPOINT is set;
// OTEL_SDK_DISABLED=true switches it off in any case. Only the variables
// that decide this are checked when tracing is off: the others may be
// meant for other programs sharing the environment. Otherwise every bad
// value is reported, each error naming its variable (never quoting
// headers, which hold credentials). Certificate files are read here.
func FromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	// signal returns the traces-specific variable, else the generic one,
	// and the name of the one it used.
	signal := func(suffix string) (string, string) {
		if v := get("OTEL_EXPORTER_OTLP_TRACES_" + suffix); v != "" {
			return v, "OTEL_EXPORTER_OTLP_TRACES_" + suffix
		}
		return get("OTEL_EXPORTER_OTLP_" + suffix), "OTEL_EXPORTER_OTLP_" + suffix
	}

	disabled := false
	switch v := strings.ToLower(get("OTEL_SDK_DISABLED")); v {
	case "", "false":
	case "true":
		disabled = true
	default:
		bad("OTEL_SDK_DISABLED", "%q: want true or false", v)
	}
	var c Config
	endpointSet := get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	switch v := strings.ToLower(get("OTEL_TRACES_EXPORTER")); v {
	case "":
		c.Enabled = endpointSet
	case "otlp":
		c.Enabled = true
	case "none":
	default:
		bad("OTEL_TRACES_EXPORTER", "%q: want otlp or none (Hera exports over OTLP only)", v)
	}
	if disabled || len(errs) > 0 || !c.Enabled {
		return Config{}, errors.Join(errs...)
	}

	proto, name := signal("PROTOCOL")
	switch proto = strings.ToLower(proto); proto {
	case "":
		c.Protocol = ProtocolHTTP
	case ProtocolHTTP, ProtocolGRPC:
		c.Protocol = proto
	default:
		bad(name, "%q: want grpc or http/protobuf", proto)
	}

	if raw, name := signal("ENDPOINT"); raw == "" {
		c.Endpoint = &url.URL{Scheme: "http", Host: "localhost:4318", Path: "/v1/traces"}
		if c.Protocol == ProtocolGRPC {
			c.Endpoint = &url.URL{Scheme: "http", Host: "localhost:4317"}
		}
	} else if u, err := parseEndpoint(raw); err != nil {
		bad(name, "%q: %v", raw, err)
	} else {
		// The generic endpoint is a base URL for every signal; the traces
		// one is used as it is (the OTLP specification).
		if c.Protocol == ProtocolHTTP && name == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			u.Path = path.Join("/", u.Path, "v1/traces")
		}
		if u.Path == "" {
			u.Path = "/"
		}
		c.Endpoint = u
	}

	if raw, name := signal("HEADERS"); raw != "" {
		h, err := parsePairs(raw)
		if err != nil {
			bad(name, "%v", err) // the value is not quoted: it holds credentials
		}
		c.Headers = h
	}

	c.Timeout = 10 * time.Second
	if raw, name := signal("TIMEOUT"); raw != "" {
		ms, err := strconv.Atoi(raw)
		if err != nil || ms <= 0 {
			bad(name, "%q: want a positive number of milliseconds, e.g. 10000", raw)
		} else {
			c.Timeout = time.Duration(ms) * time.Millisecond
		}
	}

	switch v, name := signal("COMPRESSION"); strings.ToLower(v) {
	case "", "none":
		c.Compression = "none"
	case "gzip":
		c.Compression = "gzip"
	default:
		bad(name, "%q: want gzip or none", v)
	}

	c.TLS = readTLS(signal, bad)

	attrs := get("OTEL_RESOURCE_ATTRIBUTES")
	if attrs != "" {
		a, err := parsePairs(attrs)
		if err != nil {
			bad("OTEL_RESOURCE_ATTRIBUTES", "%v", err)
		}
		c.Attributes = a
	}
	// OTEL_SERVICE_NAME wins over a service.name among the attributes.
	c.ServiceName = get("OTEL_SERVICE_NAME")
	if c.ServiceName == "" {
		c.ServiceName = c.Attributes["service.name"]
	}
	if c.ServiceName == "" {
		c.ServiceName = "hera"
	}
	delete(c.Attributes, "service.name")

	c.Sampler = strings.ToLower(get("OTEL_TRACES_SAMPLER"))
	c.SamplerArg = 1
	switch c.Sampler {
	case "":
		c.Sampler = SamplerParentBasedAlwaysOn
	case SamplerAlwaysOn, SamplerAlwaysOff, SamplerParentBasedAlwaysOn, SamplerParentBasedAlwaysOff:
	case SamplerTraceIDRatio, SamplerParentBasedTraceIDRatio:
		if raw := get("OTEL_TRACES_SAMPLER_ARG"); raw != "" {
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil || f < 0 || f > 1 {
				bad("OTEL_TRACES_SAMPLER_ARG", "%q: want a ratio from 0 to 1, e.g. 0.25", raw)
			} else {
				c.SamplerArg = f
			}
		}
	default:
		bad("OTEL_TRACES_SAMPLER", "%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", c.Sampler)
	}

	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseEndpoint accepts an absolute http or https URL without credentials,
// query or fragment (credentials belong in the headers).
func parseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("want an http:// or https:// URL, e.g. http://otel-collector:4318")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("no host")
	case u.User != nil:
		return nil, errors.New("credentials in the URL: send them in OTEL_EXPORTER_OTLP_HEADERS")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("query or fragment not allowed")
	}
	return u, nil
}

// parsePairs reads key=value pairs separated by commas, values
// percent-decoded (the W3C Baggage syntax the OTLP variables use). Its
// errors never quote a value.
func parsePairs(raw string) (map[string]string, error) {
	out := map[string]string{}
	for i, item := range strings.Split(raw, ",") {
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %d: want key=value pairs separated by commas", i+1)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("entry %d (%s): bad percent-encoding", i+1, k)
		}
		out[k] = dv
	}
	return out, nil
}

// readTLS loads the CA and client certificate files, or returns nil when
// none is set.
func readTLS(signal func(string) (string, string), bad func(string, string, ...any)) *tls.Config {
	caFile, caName := signal("CERTIFICATE")
	certFile, certName := signal("CLIENT_CERTIFICATE")
	keyFile, keyName := signal("CLIENT_KEY")
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			bad(caName, "%v", err)
		} else {
			t.RootCAs = x509.NewCertPool()
			if !t.RootCAs.AppendCertsFromPEM(pem) {
				bad(caName, "%s: no PEM certificate", caFile)
			}
		}
	}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			// The error names the files, never the key's contents.
			bad(certName, "with %s: %v", keyName, err)
		} else {
			t.Certificates = []tls.Certificate{cert}
		}
	case certFile != "":
		// Name the missing one in the form of the one given.
		bad(strings.Replace(certName, "CLIENT_CERTIFICATE", "CLIENT_KEY", 1), "required with %s", certName)
	case keyFile != "":
		bad(strings.Replace(keyName, "CLIENT_KEY", "CLIENT_CERTIFICATE", 1), "required with %s", keyName)
	}
	return t
}
