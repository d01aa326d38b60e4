// Package tracing is Hera's OpenTelemetry tracing: configuration from the
// standard OTEL_* variables, the OTLP exporter (HTTP or gRPC), a server
// span per request, client spans for calls to Kratos, Hydra, the captcha
// provider and the lockout store, and W3C Trace Context propagation to
// Kratos and Hydra.
//
// It is off by default, and then wraps nothing: the request path is the
// same code as without the package. Nothing here touches OpenTelemetry's
// global provider or propagator; everything goes through a *Tracing.
package tracing

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"
)

// instrumentation names Hera's tracer.
const instrumentation = "github.com/heraproject/hera"

// AttrClientCanceled marks a span whose client went away before the answer:
// not an error of Hera's or of an upstream, so the span's status stays
// unset.
const AttrClientCanceled = attribute.Key("hera.client_canceled")

// AttrRequestID is the request ID of the server span (X-Request-Id, and
// request_id on log lines).
const AttrRequestID = attribute.Key("hera.request_id")

// Tracing makes Hera's spans, or none when it is off.
type Tracing struct {
	tracer   trace.Tracer // nil when off
	tp       trace.TracerProvider
	prop     propagation.TextMapPropagator
	shutdown func(context.Context) error
}

// Off returns tracing that is switched off: every wrapper returns what it
// was given.
func Off() *Tracing {
	return &Tracing{tp: noop.NewTracerProvider(), prop: propagation.TraceContext{}}
}

// New traces with tp (tests hand in an SDK provider with an in-memory
// exporter). The caller owns tp: Shutdown does not shut it down.
func New(tp trace.TracerProvider) (*Tracing, error) {
	if tp == nil {
		return nil, errors.New("tracing: a TracerProvider is required")
	}
	return &Tracing{tracer: tp.Tracer(instrumentation), tp: tp, prop: propagation.TraceContext{}}, nil
}

// Options are what Setup needs besides the configuration.
type Options struct {
	// Logger receives export failures (at most one line a minute).
	Logger *slog.Logger
	// Version is the resource's service.version.
	Version string
}

// Setup builds tracing from c: Off when c is not enabled, otherwise an SDK
// provider that batches spans to the OTLP exporter c describes. Every
// exporter setting is passed explicitly from c, so what the exporter does
// is what FromEnv read (through run's getenv), whatever the process
// environment says.
func Setup(ctx context.Context, c Config, o Options) (*Tracing, error) {
	if !c.Enabled {
		return Off(), nil
	}
	if o.Logger == nil {
		return nil, errors.New("tracing: a logger is required")
	}
	if c.Endpoint == nil {
		return nil, errors.New("tracing: no endpoint")
	}
	exp, err := newExporter(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(c.ServiceName)}
	if o.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(o.Version))
	}
	for k, v := range c.Attributes {
		attrs = append(attrs, attribute.String(k, v))
	}
	// Not resource.WithFromEnv: the attributes come from getenv, like the
	// rest of the configuration. (sdktrace.WithResource still merges the
	// process environment's in underneath; in production that is the same
	// environment, already checked by FromEnv, and ours win.)
	res, err := resource.New(ctx, resource.WithSchemaURL(semconv.SchemaURL), resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(&reportingExporter{SpanExporter: exp, log: o.Logger}),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler(c.Sampler, c.SamplerArg)),
	)
	return &Tracing{tracer: tp.Tracer(instrumentation), tp: tp, prop: propagation.TraceContext{}, shutdown: tp.Shutdown}, nil
}

// Enabled reports whether spans are made.
func (t *Tracing) Enabled() bool { return t != nil && t.tracer != nil }

// TracerProvider is the provider spans come from (a no-op one when off).
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.tp }

// Shutdown sends the spans still queued and stops the exporter; ctx bounds
// how long that may take. Call it once, after the server has stopped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Call starts a client span for one call to peer (a lockout store
// operation, say) and returns the context to make the call with and the
// function that ends the span with the call's error. Off, it returns ctx
// and a no-op.
func (t *Tracing) Call(ctx context.Context, peer, op string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	if !t.Enabled() {
		return ctx, func(error) {}
	}
	ctx, span := t.tracer.Start(ctx, peer+" "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, semconv.ServicePeerName(peer))...))
	return ctx, func(err error) {
		endWithError(ctx, span, err)
		span.End()
	}
}

// endWithError records err on span: a cancellation by the client is marked
// as such, anything else is an error.
func endWithError(ctx context.Context, span trace.Span, err error) {
	switch {
	case err == nil:
	case Canceled(ctx, err):
		span.SetAttributes(AttrClientCanceled.Bool(true))
	default:
		span.SetStatus(codes.Error, err.Error())
	}
}

// Canceled reports whether err is ctx's own cancellation: the caller gave
// up (a browser that went away), as opposed to a timeout or a failure.
func Canceled(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled)
}

// sampler maps an OTEL_TRACES_SAMPLER name (checked by FromEnv) to the SDK's.
func sampler(name string, arg float64) sdktrace.Sampler {
	switch name {
	case SamplerAlwaysOn:
		return sdktrace.AlwaysSample()
	case SamplerAlwaysOff:
		return sdktrace.NeverSample()
	case SamplerTraceIDRatio:
		return sdktrace.TraceIDRatioBased(arg)
	case SamplerParentBasedAlwaysOff:
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case SamplerParentBasedTraceIDRatio:
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(arg))
	default:
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
}

// newExporter builds the OTLP exporter. It does not connect: a collector
// that is down costs lost spans, never Hera's start.
func newExporter(ctx context.Context, c Config) (sdktrace.SpanExporter, error) {
	// Every option is given, so the exporter's own reading of the process
	// environment is overridden throughout.
	headers := c.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	switch c.Protocol {
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(c.Endpoint.Host),
			otlptracegrpc.WithHeaders(headers),
			otlptracegrpc.WithTimeout(c.Timeout),
		}
		if c.Endpoint.Scheme == "https" {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsConfig(c))))
		} else {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if c.Compression == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		return otlptracegrpc.New(ctx, opts...)
	case ProtocolHTTP:
		opts := []otlptracehttp.Option{
			otlptracehttp.WithEndpointURL(c.Endpoint.String()),
			otlptracehttp.WithHeaders(headers),
			otlptracehttp.WithTimeout(c.Timeout),
			otlptracehttp.WithCompression(otlptracehttp.NoCompression),
		}
		if c.Endpoint.Scheme == "https" {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsConfig(c)))
		} else {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if c.Compression == "gzip" {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("protocol %q: want grpc or http/protobuf", c.Protocol)
}

func tlsConfig(c Config) *tls.Config {
	if c.TLS != nil {
		return c.TLS.Clone()
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// reportingExporter logs failed exports itself, at most once a minute with
// the number of spans lost since the last line. Returning nil keeps the
// SDK from handing the error to OpenTelemetry's global error handler,
// which would print it to standard error outside Hera's log.
type reportingExporter struct {
	sdktrace.SpanExporter
	log    *slog.Logger
	lost   atomic.Int64
	lastAt atomic.Int64 // unix nanoseconds of the last line
}

func (e *reportingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		return nil
	}
	e.lost.Add(int64(len(spans)))
	now, last := time.Now().UnixNano(), e.lastAt.Load()
	if now-last >= int64(time.Minute) && e.lastAt.CompareAndSwap(last, now) {
		e.log.Warn("tracing: spans not exported", "lost", e.lost.Swap(0), "err", err)
	}
	return nil
}
