package tracing

import (
	"context"
	"github.com/google/uuid"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraproject/hera/internal/requestid"
)

// Middleware gives every request a server span, named after the ServeMux
// pattern that served it ("GET /login") once routing is done, with the
// request ID as hera.request_id. next must hand the very *http.Request it
// gets to the ServeMux (wrap the mux, or middleware that passes requests
// on unchanged), since the mux records the pattern on it.
//
// A traceparent the request carries is the span's parent only when
// trustParent says so (a reverse proxy of the operator's); anyone else's
// starts a new trace that links to it, so a browser cannot write into a
// trace of its choosing, nor pass its own trace into Kratos.
//
// Off, it returns next.
func (t *Tracing) Middleware(next http.Handler, trustParent func(*http.Request) bool) http.Handler {
	if !t.Enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		method, known := methodOf(r.Method)
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				semconv.HTTPRequestMethodKey.String(method),
				semconv.URLPath(r.URL.Path), // never the query: it carries flow IDs and challenges
				AttrRequestID.String(requestid.From(ctx)),
			),
		}
		if remote := trace.SpanContextFromContext(t.prop.Extract(context.Background(), propagation.HeaderCarrier(r.Header))); remote.IsValid() {
			if trustParent != nil && trustParent(r) {
				ctx = trace.ContextWithRemoteSpanContext(ctx, remote)
			} else {
				opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: remote}))
			}
		}
		name := "HTTP"
		if known {
			name = method
		}
		ctx, span := t.tracer.Start(ctx, name, opts...)
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(ctx)
		finished := false
		defer func() {
			// Also when a panic passes through (http.ErrAbortHandler: the
			// handler gave up on the response), so no span is left open.
			if !finished && !Canceled(ctx, ctx.Err()) {
				span.SetStatus(codes.Error, "handler aborted")
			}
			t.finishServer(span, r, rec.status, known)
		}()
		next.ServeHTTP(rec, r)
		finished = true
	})
}

// finishServer names the span after the route and records the outcome.
func (t *Tracing) finishServer(span trace.Span, r *http.Request, status int, known bool) {
	defer span.End()
	if route := routeOf(r.Pattern); route != "" {
		name := "HTTP " + route
		if known {
			name = r.Method + " " + route
		}
		span.SetName(name)
		span.SetAttributes(semconv.HTTPRoute(route))
	}
	if status == 0 {
		status = http.StatusOK
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	switch ctx := r.Context(); {
	case Canceled(ctx, ctx.Err()):
		// The client went away: its choice, not a failure of Hera's.
		span.SetAttributes(AttrClientCanceled.Bool(true))
	case status >= 500:
		span.SetStatus(codes.Error, "")
	}
}

// routeOf is the path part of a ServeMux pattern ("GET /login" → "/login",
// "GET /{$}" → "/"), or "" when no pattern matched.
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	return strings.TrimSuffix(pattern, "{$}")
}

// methodOf is the method as the HTTP semantic conventions record it:
// anything but the standard methods is "_OTHER", so clients cannot make
// up span names.
func methodOf(m string) (string, bool) {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m, true
	}
	return "_OTHER", false
}

// recorder remembers the response's status for the span.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Transport wraps rt so that every call to peer ("kratos", "hydra") gets a
// client span, a child of the caller's, and carries it to peer in a W3C
// traceparent header, so peer's own spans join Hera's trace. Only Hera's
// own upstreams should get it: a third party learns nothing from Hera's
// trace IDs it needs. Off, it returns rt.
func (t *Tracing) Transport(peer string, rt http.RoundTripper) http.RoundTripper {
	return t.transport(peer, rt, true)
}

// ExternalTransport is Transport without the traceparent header, for
// services outside the operator's tracing (the captcha provider).
func (t *Tracing) ExternalTransport(peer string, rt http.RoundTripper) http.RoundTripper {
	return t.transport(peer, rt, false)
}

func (t *Tracing) transport(peer string, rt http.RoundTripper, propagate bool) http.RoundTripper {
	if !t.Enabled() {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &transport{t: t, peer: peer, next: rt, propagate: propagate}
}

type transport struct {
	t         *Tracing
	peer      string
	next      http.RoundTripper
	propagate bool
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	method, known := methodOf(req.Method)
	name := "HTTP"
	if known {
		name = method
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.ServicePeerName(tr.peer),
		semconv.URLPath(req.URL.Path), // never the query: flow IDs, logout tokens, challenges
	}
	if host, port, err := net.SplitHostPort(req.URL.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if req.URL.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(req.URL.Host))
	}
	ctx, span := tr.t.tracer.Start(req.Context(), name+" "+template(req.URL.Path),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	// A RoundTripper must not change the caller's request.
	req = req.Clone(ctx)
	if tr.propagate {
		tr.t.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	res, err := tr.next.RoundTrip(req)
	if err != nil {
		endWithError(ctx, span, err)
		span.End()
		return nil, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(res.StatusCode))
	if res.StatusCode >= 500 {
		// 4xx are answers about the request (no session, an expired flow),
		// routine for Hera; 5xx mean the upstream failed.
		span.SetStatus(codes.Error, "")
	}
	if res.Body == nil || res.Body == http.NoBody {
		// Kept as it is: callers tell a bodiless answer by it.
		span.End()
		return res, nil
	}
	// The span lasts until the answer has been read.
	res.Body = &spanBody{ReadCloser: res.Body, ctx: ctx, span: span}
	return res, nil
}

// spanBody ends its span when the body is read to its end, fails or is
// closed, whichever comes first.
type spanBody struct {
	io.ReadCloser
	ctx  context.Context
	span trace.Span
	once sync.Once
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.end(nil)
	case err != nil:
		b.end(err)
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.ReadCloser.Close()
	b.end(nil)
	return err
}

func (b *spanBody) end(err error) {
	b.once.Do(func() {
		endWithError(b.ctx, b.span, err)
		b.span.End()
	})
}

// template is path with its IDs replaced by {id}, for span names of few
// distinct values: Kratos's and Hydra's IDs are UUIDs, Hydra's client IDs
// anything.
func template(path string) string {
	if !strings.Contains(path, "-") && !strings.Contains(path, "/clients/") {
		return path // the common case: nothing to replace, nothing allocated
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if isUUID(s) || (i > 0 && segs[i-1] == "clients" && s != "") {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// isUUID: a canonical 36-character UUID (Kratos's and Hydra's IDs).
func isUUID(s string) bool { return len(s) == 36 && uuid.Validate(s) == nil }
