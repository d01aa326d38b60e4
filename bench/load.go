package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one side of a comparison: how to build the i-th request and how
// to tell a good answer from an error.
type target struct {
	name string
	// req builds a request; i counts from 0 over the whole phase (all
	// workers), so pooled one-shot resources (flows) are never used twice.
	req func(i int) (*http.Request, error)
	// check judges the answer; body is the whole response body.
	check func(res *http.Response, body []byte) error
	// limit, if positive, is how many requests the phase may make (the size
	// of a pool of one-shot resources); the phase ends early when it is
	// used up.
	limit int
}

// result is what one timed phase measured.
type result struct {
	n, errs   int
	firstErr  string
	elapsed   time.Duration
	lat       []time.Duration // sorted
	bytes     int64
	exhausted bool // the phase ran out of pooled resources before its time
}

func (r result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.n) / r.elapsed.Seconds()
}

// pct returns the p-th percentile (0 < p ≤ 100) of the sorted latencies,
// nearest-rank.
func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*p/100+0.5) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

// merge adds the measurements of another run of the same target.
func (r result) merge(o result) result {
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
	r.n += o.n
	r.errs += o.errs
	r.elapsed += o.elapsed
	r.bytes += o.bytes
	r.exhausted = r.exhausted || o.exhausted
	r.lat = append(r.lat, o.lat...)
	slices.Sort(r.lat)
	return r
}

// newClient is a load-generator client: keep-alive, one connection per
// worker, no compression, no HTTP/2, redirects never followed.
func newClient(conc int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conc * 2,
			MaxIdleConnsPerHost: conc * 2,
			MaxConnsPerHost:     0,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// load runs t with conc workers for d (or until its pool is used up) and
// returns what it measured. Every worker sends its requests one after the
// other on its own keep-alive connection.
func load(ctx context.Context, conc int, d time.Duration, t target) result {
	client := newClient(conc)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	var next atomic.Int64
	ws := make([]worker, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me := &ws[w]
			me.lat = make([]time.Duration, 0, 1<<14)
			buf := make([]byte, 0, 64<<10)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if t.limit > 0 && i >= t.limit {
					me.out = true
					return
				}
				req, err := t.req(i)
				if err != nil {
					me.fail(fmt.Errorf("build request: %w", err))
					continue
				}
				t0 := time.Now()
				res, err := client.Do(req.WithContext(ctx))
				if err != nil {
					if ctx.Err() != nil {
						return // the phase ended mid-request: not counted
					}
					me.fail(err)
					continue
				}
				buf, err = readAll(res.Body, buf[:0])
				res.Body.Close()
				el := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					me.fail(err)
					continue
				}
				if err := t.check(res, buf); err != nil {
					me.fail(err)
					continue
				}
				me.n++
				me.bytes += int64(len(buf))
				me.lat = append(me.lat, el)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var r result
	allOut := true
	for _, w := range ws {
		r.n += w.n
		r.errs += w.errs
		r.bytes += w.bytes
		r.lat = append(r.lat, w.lat...)
		if r.firstErr == "" {
			r.firstErr = w.firstErr
		}
		allOut = allOut && w.out
	}
	// A phase that used up its pool ended when its last request did;
	// otherwise requests cut short at the deadline are not counted.
	r.exhausted = allOut && t.limit > 0
	r.elapsed = elapsed
	if !r.exhausted {
		r.elapsed = min(elapsed, d)
	}
	slices.Sort(r.lat)
	return r
}

// worker is one load-generating goroutine's tally.
type worker struct {
	lat      []time.Duration
	n, errs  int
	bytes    int64
	firstErr string
	out      bool // ran out of pooled resources
}

func (w *worker) fail(err error) {
	w.errs++
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
}

// readAll reads r to its end into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
