// Package metrics exposes Hera's Prometheus metrics: HTTP requests by route,
// calls to Kratos and Hydra, lockout decisions and captcha outcomes, and
// reservations counted as failures because they were never settled. They are
// served on their own listener (HERA_METRICS_LISTEN), never on the public one.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraproject/hera/internal/lockout"
)

// Metrics holds Hera's collectors in their own registry.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	upstream  *prometheus.HistogramVec
	upErrors  *prometheus.CounterVec
	decisions *prometheus.CounterVec
	expired   *prometheus.CounterVec
	events    *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	alerts    *prometheus.CounterVec

	mailSent    *prometheus.CounterVec
	mailFailed  *prometheus.CounterVec
	mailDropped *prometheus.CounterVec
	mailQueue   prometheus.Gauge
}

// New registers Hera's metrics (and the Go runtime's) in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_http_requests_total", Help: "HTTP requests served, by route pattern, method and status (499: the client went away first).",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hera_http_request_duration_seconds", Help: "Time to serve HTTP requests, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hera_upstream_request_duration_seconds", Help: "Calls to Kratos and Hydra, by upstream, method and status class (canceled: the browser went away first).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"upstream", "method", "status"}),
		upErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_upstream_errors_total", Help: "Calls to Kratos and Hydra that failed without an answer (unreachable, timeout; not those the browser gave up on).",
		}, []string{"upstream"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_auth_decisions_total", Help: "Guard decisions on submissions that carry a secret or send a code: allowed, locked, busy, send_limited, captcha_failed, captcha_unavailable, store_unavailable, credential_failure, success.",
		}, []string{"flow", "outcome"}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_lockout_reservations_expired_total", Help: "Reserved attempts not settled within HERA_LOCKOUT_HOLD (a replica died mid-attempt, or the store failed when settling), counted as failures when their hold ended, by key kind (identifier, ip, identity, device).",
		}, []string{"kind"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_activity_events_total", Help: "Events written to the accounts' activity, by kind (sign_in, sign_in_failed, locked, password_changed, …).",
		}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_activity_dropped_total", Help: "Activity work not done, by reason: busy (the background pool was full), store (the activity store failed), kratos (Kratos's admin API failed), closed (Hera was shutting down).",
		}, []string{"reason"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_alerts_total", Help: "Alert mails by kind and outcome: queued, duplicate (already queued or sent), full (HERA_MAIL_QUEUE_MAX), unavailable (the queue's store failed), render, no_recipient (no verified e-mail address).",
		}, []string{"kind", "outcome"}),
		mailSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_mail_sent_total", Help: "Alert mails sent, by kind (new_sign_in, password_changed, ...).",
		}, []string{"kind"}),
		mailFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_mail_failed_total", Help: "Failed attempts to send an alert mail, by kind and reason (connect, timeout, tls, auth, sender, recipient, data, address, other); most are retried.",
		}, []string{"kind", "reason"}),
		mailDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hera_mail_dropped_total", Help: "Alert mails given up on after HERA_MAIL_MAX_ATTEMPTS failed attempts, by kind.",
		}, []string{"kind"}),
		mailQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hera_mail_queue_length", Help: "Alert mails waiting in the shared queue (all replicas), as this replica last saw it.",
		}),
	}
	m.reg.MustRegister(m.events, m.dropped, m.alerts)
	m.reg.MustRegister(m.requests, m.latency, m.upstream, m.upErrors, m.decisions, m.expired,
		m.mailSent, m.mailFailed, m.mailDropped, m.mailQueue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The series exist from the start, at 0, so that rate() and alerts see them.
	for _, k := range []lockout.KeyKind{lockout.KindIdentifier, lockout.KindIP, lockout.KindIdentity, lockout.KindDevice} {
		m.expired.WithLabelValues(string(k))
	}
	for _, r := range []string{"busy", "store", "kratos", "closed"} {
		m.dropped.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Middleware counts every request by the ServeMux pattern that served it
// (bounded cardinality: never the raw path).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type recorder struct {
	http.ResponseWriter
	status  int
	written bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.status, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Transport wraps rt to time every call to upstream ("kratos", "hydra").
func (m *Metrics) Transport(upstream string, rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		res, err := rt.RoundTrip(req)
		if err != nil {
			if errors.Is(err, context.Canceled) && errors.Is(req.Context().Err(), context.Canceled) {
				// The caller gave up (the browser went away): the upstream
				// did not fail, so no alert on hera_upstream_errors_total.
				m.upstream.WithLabelValues(upstream, req.Method, "canceled").Observe(time.Since(start).Seconds())
				return nil, err
			}
			m.upErrors.WithLabelValues(upstream).Inc()
			return nil, err
		}
		m.upstream.WithLabelValues(upstream, req.Method, strconv.Itoa(res.StatusCode/100)+"xx").Observe(time.Since(start).Seconds())
		return res, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Decision counts one guard decision.
func (m *Metrics) Decision(flow, outcome string) {
	m.decisions.WithLabelValues(flow, outcome).Inc()
}

// ReservationsExpired counts n reservations on keys of kind that were
// counted as failures because their hold ended unsettled; it is what
// lockout.Config.OnExpired takes.
func (m *Metrics) ReservationsExpired(kind lockout.KeyKind, n int) {
	m.expired.WithLabelValues(string(kind)).Add(float64(n))
}

// EventRecorded counts an event written to an account's activity.
func (m *Metrics) EventRecorded(kind string) { m.events.WithLabelValues(kind).Inc() }

// EventDropped counts activity work not done, by reason.
func (m *Metrics) EventDropped(reason string) { m.dropped.WithLabelValues(reason).Inc() }

// Alert counts an alert mail's outcome.
func (m *Metrics) Alert(kind, outcome string) { m.alerts.WithLabelValues(kind, outcome).Inc() }

// The mail methods do nothing on a nil *Metrics (HERA_METRICS_LISTEN
// unset), so that the mail worker takes app's *Metrics as it is.

// MailSent counts one alert mail sent.
func (m *Metrics) MailSent(kind string) {
	if m != nil {
		m.mailSent.WithLabelValues(kind).Inc()
	}
}

// MailFailed counts one failed attempt to send an alert mail.
func (m *Metrics) MailFailed(kind, reason string) {
	if m != nil {
		m.mailFailed.WithLabelValues(kind, reason).Inc()
	}
}

// MailDropped counts one alert mail given up on.
func (m *Metrics) MailDropped(kind string) {
	if m != nil {
		m.mailDropped.WithLabelValues(kind).Inc()
	}
}

// MailQueueLength sets the number of alert mails waiting.
func (m *Metrics) MailQueueLength(n int) {
	if m != nil {
		m.mailQueue.Set(float64(n))
	}
}
