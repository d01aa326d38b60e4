package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heraproject/hera/internal/stack"
)

// options are the command line.
type options struct {
	concs      []int
	dur        time.Duration
	warmup     time.Duration
	levels     []string
	only       []string
	bcryptCost int
	starts     int
	heraBin    string
	bin        string
	out        string
	keep       bool
	heraEnv    []string
	sqliteOpts string
	db         string
	quiet      time.Duration
	heraLog    string
	split      *split // nil: everything shares every CPU
	rounds     int
	nginx      bool // also measure the direct requests through nginx
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	concs := fs.String("c", "64,16", "comma-separated concurrencies (connections); the first is the main table")
	fs.DurationVar(&o.dur, "d", 8*time.Second, "timed duration of each side of a comparison (run in two halves)")
	fs.IntVar(&o.rounds, "rounds", 1, "rounds of direct, Hera, Hera, direct per comparison (-d is split among them); with more than one the report gives the spread of the rounds' ratios")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "untimed warm-up of each side before its first half")
	levels := fs.String("log", "info,warn", "comma-separated HERA_LOG_LEVEL values to run Hera with (info is as shipped)")
	only := fs.String("only", "render,flowproxy,whoami,welcome,submit", "comma-separated scenarios to run")
	fs.IntVar(&o.bcryptCost, "bcrypt-cost", 4, "Kratos's bcrypt cost (4 is its minimum and what the tests use; production uses 12)")
	fs.IntVar(&o.starts, "starts", 5, "extra Hera start-ups timed for the start-up figure")
	fs.StringVar(&o.heraBin, "hera", "", "Hera binary to run; empty builds ./cmd/hera into bin/hera")
	fs.StringVar(&o.bin, "bin", "", "directory with the kratos binary; empty: the repository's bin/ (scripts/build-ory.sh builds it when missing)")
	fs.StringVar(&o.out, "o", "", "also write the report (Markdown) to this file")
	fs.StringVar(&o.heraLog, "hera-log", "pipe", "where Hera's log goes: pipe (drained by the benchmark, as by journald or a container runtime), file (in the temporary directory) or null")
	fs.DurationVar(&o.quiet, "quiet", 20*time.Second, "before each timed half, wait up to this long for the whole machine to be idle (0: don't wait)")
	fs.StringVar(&o.db, "db", "postgres", "Kratos's database: postgres (Debian's postgresql, started for the run, as production Kratos runs) or sqlite (the dev stack's; it cannot take concurrent sign-ins)")
	fs.StringVar(&o.sqliteOpts, "sqlite", "_journal_mode=WAL&_synchronous=NORMAL", "extra DSN options of Kratos's SQLite database; empty keeps the dev stack's (rollback journal: every write waits for an fsync)")
	fs.BoolVar(&o.nginx, "nginx", true, "also send the direct side's requests through Debian's nginx in front of Kratos (keep-alive upstream), the cheapest hop an operator would use")
	splitCPUs := fs.Bool("split", false, "run Hera alone on the last CPU and everything else (load generator, PostgreSQL, Kratos) on the others, as when Hera has its own container; the default shares every CPU")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (Kratos database and logs)")
	fs.Func("env", "extra `KEY=VALUE` in Hera's environment, e.g. -env GOGC=200 (repeatable)", func(s string) error {
		if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, not %q", s)
		}
		o.heraEnv = append(o.heraEnv, s)
		return nil
	})
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-c: bad concurrency %q", s)
		}
		o.concs = append(o.concs, n)
	}
	for _, s := range strings.Split(*levels, ",") {
		o.levels = append(o.levels, strings.TrimSpace(s))
	}
	known := map[string]bool{}
	for _, sc := range scenarios() {
		known[sc.key] = true
	}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if !known[s] {
			return nil, fmt.Errorf("-only: unknown scenario %q", s)
		}
		o.only = append(o.only, s)
	}
	if o.db != "sqlite" && o.db != "postgres" {
		return nil, fmt.Errorf("-db: sqlite or postgres, not %q", o.db)
	}
	if *splitCPUs {
		var err error
		if o.split, err = newSplit(); err != nil {
			return nil, err
		}
	}
	if o.dur <= 0 || o.warmup < 0 || o.rounds < 1 {
		return nil, errors.New("-d and -rounds must be positive and -warmup not negative")
	}
	return o, nil
}

// phase is one timed comparison at one concurrency with one Hera setting.
type phase struct {
	level, scenario string
	conc            int
	direct, hera    result
	nginx           result                   // the direct requests through nginx (-nginx)
	cpuDirect       map[string]time.Duration // CPU each process spent in the direct phase
	cpuHera         map[string]time.Duration
	cpuNginx        map[string]time.Duration
	noisy           bool      // the machine was not idle before a side started
	roundRatios     []float64 // Hera/direct of each round, when there are several
}

// heraRun is one Hera process the load ran against.
type heraRun struct {
	level     string
	ready     startup
	peakRSSKB int64
	cpu       time.Duration // Hera's CPU during the whole load run
	kratosCPU time.Duration
}

// startup is how long Hera took from exec to answering.
type startup struct {
	alive, ready time.Duration // /health/alive, /health/ready (which asks Kratos)
	rssKB        int64         // VmRSS once ready, idle
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	loadBefore := loadavg()

	// Paths on the command line are relative to where it was typed.
	for _, p := range []*string{&o.heraBin, &o.out, &o.bin} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return err
			}
		}
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	if o.bin == "" {
		o.bin = filepath.Join(root, "bin")
	}
	kratosBin := filepath.Join(o.bin, "kratos")
	if _, err := os.Stat(kratosBin); err != nil {
		logf("%s missing: running scripts/build-ory.sh ...", kratosBin)
		cmd := exec.CommandContext(ctx, "scripts/build-ory.sh")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("scripts/build-ory.sh: %w", err)
		}
	}
	heraBin := o.heraBin
	if heraBin == "" {
		heraBin = filepath.Join(root, "bin", "hera")
		logf("building %s from ./cmd/hera ...", heraBin)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", heraBin, "./cmd/hera")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/hera: %w", err)
		}
	}

	dir, err := os.MkdirTemp("", "herabench-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("state and logs in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	if o.split != nil {
		if err := o.split.pinSelf(); err != nil {
			return err
		}
		logf("%s", o.split.describe())
	}

	// Kratos's courier needs somewhere to deliver (no mail is sent here).
	mailLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mailSrv := &http.Server{Handler: stack.NewMailbox(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = mailSrv.Serve(mailLn) }()
	defer mailSrv.Close()

	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = stack.FreePort(); err != nil {
			return err
		}
	}
	heraPort := ports[2]
	heraURL := "http://localhost:" + strconv.Itoa(heraPort)
	kratosLog, err := os.Create(filepath.Join(dir, "kratos.log"))
	if err != nil {
		return err
	}
	defer kratosLog.Close()
	// The DSN environment variable overrides the dsn of the configuration
	// internal/stack renders.
	var kratosEnv []string
	pgPID := ""
	switch {
	case o.db == "postgres":
		logf("starting PostgreSQL ...")
		pg, err := startPostgres(ctx, dir, kratosLog)
		if err != nil {
			return err
		}
		defer pg.stop()
		pgPID = strconv.Itoa(pg.cmd.Process.Pid)
		dsn := pg.url("kratos")
		if err := migrateKratos(ctx, kratosBin, dsn, kratosLog); err != nil {
			return err
		}
		kratosEnv = append(kratosEnv, "DSN="+dsn+"&max_conns=16&max_idle_conns=16")
	case o.sqliteOpts != "":
		// The same database file internal/stack configures.
		kratosEnv = append(kratosEnv, "DSN=sqlite://"+filepath.Join(dir, "kratos", "kratos.sqlite")+
			"?_fk=true&mode=rwc&"+o.sqliteOpts)
	}
	logf("starting Kratos (%s, bcrypt cost %d, log level warning) ...", o.dbDesc(), o.bcryptCost)
	// Kratos's web hooks reach Hera as in production (the account's
	// activity is part of every sign-in's cost).
	webhookSecret := stack.RandomSecret()
	k, err := stack.StartKratos(ctx, stack.KratosConfig{
		Bin: kratosBin, Dir: filepath.Join(dir, "kratos"), HeraURL: heraURL,
		PublicPort: ports[0], AdminPort: ports[1], MailURL: "http://" + mailLn.Addr().String() + "/",
		BcryptCost: o.bcryptCost, LogLevel: "warning", Secret: stack.RandomSecret(), Output: kratosLog,
		Env: kratosEnv, WebhookSecret: webhookSecret,
	})
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, kratosLog.Name())
	}
	defer k.Stop()
	kratosPID, err := childPID("kratos")
	if err != nil {
		return err
	}
	nginxPID := ""
	var nginxURL string
	if o.nginx {
		ng, err := startNginx(ctx, dir, strings.TrimPrefix(k.PublicURL, "http://"))
		if err != nil {
			return err
		}
		defer ng.stop()
		nginxPID, nginxURL = ng.pid(), ng.url
		logf("nginx in front of Kratos at %s", ng.url)
	}

	e := &env{
		kratos:     k.PublicURL,
		nginx:      nginxURL,
		hera:       "http://127.0.0.1:" + strconv.Itoa(heraPort),
		heraHost:   "localhost:" + strconv.Itoa(heraPort),
		heraOrigin: heraURL,
		email:      "bench@example.org",
		password:   "correct-horse-battery-staple-" + stack.RandomSecret()[:8],
	}
	if err := createIdentity(ctx, k.AdminURL, e.email, e.password); err != nil {
		return err
	}
	// Sign-ins are spread over many accounts: many parallel sign-ins to
	// one account are what Hera's guard throttles (at most the policy's
	// remaining failures in flight), not what a benchmark of its cost wants.
	for i := range signInAccounts {
		email := fmt.Sprintf("bench-%03d@example.org", i)
		if err := createIdentity(ctx, k.AdminURL, email, e.password); err != nil {
			return err
		}
		e.signIns = append(e.signIns, email)
	}
	if e.session, err = newSession(ctx, k.PublicURL, e.email, e.password); err != nil {
		return err
	}
	maxConc := slices.Max(o.concs)
	if e.viewFlows, err = newLoginFlows(ctx, k.PublicURL, maxConc, 8); err != nil {
		return err
	}

	// The load generator stands in for a reverse proxy in front of many
	// users: their sign-ins come from as many client addresses (see
	// clientIP), and Hera may send as many to Kratos at once as the load
	// generator has connections, as an operator sizes it for a Kratos on
	// PostgreSQL. -env overrides either.
	heraEnv := append([]string{"HERA_TRUSTED_PROXIES=127.0.0.1", "HERA_KRATOS_MAX_SUBMISSIONS=" + strconv.Itoa(maxConc),
		"HERA_KRATOS_WEBHOOK_SECRET=" + webhookSecret}, o.heraEnv...)
	hc := heraConfig{bin: heraBin, split: o.split, dir: dir, port: heraPort, publicURL: heraURL, kratosPublic: k.PublicURL, kratosAdmin: k.AdminURL, env: heraEnv, logTo: o.heraLog}

	// Start-up: a few cold starts of Hera alone.
	var starts []startup
	for i := range o.starts {
		h, err := hc.start(ctx, "info", fmt.Sprintf("start-%d", i))
		if err != nil {
			return err
		}
		starts = append(starts, h.startup)
		if err := h.stop(); err != nil {
			return err
		}
	}

	var phases []phase
	var runs []heraRun
	meterPIDs := map[string]string{"kratos": kratosPID, "bench": "self"}
	for _, level := range o.levels {
		h, err := hc.start(ctx, level, "load-"+level)
		if err != nil {
			return err
		}
		logf("Hera (HERA_LOG_LEVEL=%s) up: alive after %v, ready after %v", level, h.startup.alive.Round(time.Microsecond), h.startup.ready.Round(time.Microsecond))
		meterPIDs["hera"] = h.pid
		meter := cpuMeter{pids: meterPIDs, trees: map[string]string{"postgres": pgPID, "nginx": nginxPID}}
		runStart := meter.sample()
		for _, conc := range o.concs {
			for _, sc := range scenarios() {
				if !slices.Contains(o.only, sc.key) {
					continue
				}
				p, err := runPhase(ctx, e, meter, sc, level, conc, o, logf)
				if err != nil {
					_ = h.stop()
					return err
				}
				phases = append(phases, p)
			}
		}
		used := diff(meter.sample(), runStart)
		hwm, err := statusKB(h.pid, "VmHWM")
		if err != nil {
			_ = h.stop()
			return err
		}
		runs = append(runs, heraRun{level: level, ready: h.startup, peakRSSKB: hwm, cpu: used["hera"], kratosCPU: used["kratos"] + used["postgres"]})
		if err := h.stop(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	kratosHWM, _ := statusKB(kratosPID, "VmHWM")

	var rep bytes.Buffer
	m := machine()
	m.loadBefore, m.loadAfter = loadBefore, loadavg()
	report(&rep, o, m, starts, runs, phases, kratosHWM)
	_, _ = stdout.Write(rep.Bytes())
	if o.out != "" {
		if err := os.WriteFile(o.out, rep.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// runPhase measures one scenario at one concurrency, direct and through
// Hera, in rounds of direct, Hera, Hera, direct (equal times), so a drift of
// the machine's speed during the phase weighs on both sides alike. Each side
// warms up before its first half; each half starts once the machine is idle.
func runPhase(ctx context.Context, e *env, meter cpuMeter, sc scenario, level string, conc int, o *options, logf func(string, ...any)) (phase, error) {
	p := phase{level: level, scenario: sc.key, conc: conc, cpuDirect: map[string]time.Duration{}, cpuHera: map[string]time.Duration{}, cpuNginx: map[string]time.Duration{}}
	warmed := map[string]bool{}
	half := o.dur / time.Duration(2*o.rounds)
	var sides []string
	for range o.rounds {
		if e.nginx != "" {
			sides = append(sides, "direct", "nginx", "hera", "hera", "nginx", "direct")
		} else {
			sides = append(sides, "direct", "hera", "hera", "direct")
		}
	}
	// The nginx side sends the direct side's requests to nginx instead.
	viaNginx := *e
	viaNginx.kratos = e.nginx
	var roundDirect, roundHera result
	for i, side := range sides {
		mk := sc.direct
		switch side {
		case "hera":
			mk = sc.hera
		case "nginx":
			mk = func(_ *env, pool []loginFlow) target { return sc.direct(&viaNginx, pool) }
		}
		if o.quiet > 0 {
			if waited, ok := meter.waitQuiet(ctx, o.quiet); !ok {
				p.noisy = true
				logf("  machine still busy after %v: measuring anyway", waited.Round(time.Second))
			}
		}
		var pool []loginFlow
		if sc.pooled {
			// Each request spends a flow. The warm-up runs on a small pool
			// and tells how many the timed half needs; they are all
			// created before the clock starts.
			rate := p.rate(side)
			if !warmed[side] || rate == 0 {
				warm, err := newLoginFlows(ctx, e.kratos, conc*8, 8)
				if err != nil {
					return p, err
				}
				wr := load(ctx, conc, max(o.warmup, 100*time.Millisecond), mk(e, warm))
				if wr.errs > 0 {
					logf("  warm-up %s/%s: %d errors, first: %s", sc.key, side, wr.errs, wr.firstErr)
				}
				rate = wr.rps()
			}
			// Twice the expected rate: a pool used up early ends the half
			// early (reported), which only shortens it.
			need := min(max(int(rate*half.Seconds()*2)+conc, conc*8), 200_000)
			var err error
			if pool, err = newLoginFlows(ctx, e.kratos, need, 8); err != nil {
				return p, err
			}
		} else if o.warmup > 0 && !warmed[side] {
			_ = load(ctx, conc, o.warmup, mk(e, nil))
		}
		warmed[side] = true
		if ctx.Err() != nil {
			return p, ctx.Err()
		}
		before := meter.sample()
		r := load(ctx, conc, half, mk(e, pool))
		cpu := diff(meter.sample(), before)
		switch side {
		case "direct":
			p.direct = p.direct.merge(r)
			roundDirect = roundDirect.merge(r)
			addCPU(p.cpuDirect, cpu)
		case "nginx":
			p.nginx = p.nginx.merge(r)
			addCPU(p.cpuNginx, cpu)
		default:
			p.hera = p.hera.merge(r)
			roundHera = roundHera.merge(r)
			addCPU(p.cpuHera, cpu)
		}
		if o.rounds > 1 && (i+1)%(len(sides)/o.rounds) == 0 {
			p.roundRatios = append(p.roundRatios, ratio(roundHera, roundDirect))
			roundDirect, roundHera = result{}, result{}
		}
		note := ""
		if r.exhausted {
			note = " (flow pool used up)"
		}
		if r.errs > 0 {
			note += fmt.Sprintf(" — %d errors, first: %s", r.errs, r.firstErr)
		}
		logf("  log=%s c=%d %-9s %-6s %8.0f req/s  p50 %-9v p99 %-9v%s", level, conc, sc.key, side, r.rps(),
			r.pct(50).Round(time.Microsecond), r.pct(99).Round(time.Microsecond), note)
	}
	return p, ctx.Err()
}

// rate is the request rate measured so far on one side, 0 if none.
func (p *phase) rate(side string) float64 {
	switch side {
	case "direct":
		return p.direct.rps()
	case "nginx":
		return p.nginx.rps()
	}
	return p.hera.rps()
}

func addCPU(sum, d map[string]time.Duration) {
	for k, v := range d {
		sum[k] += v
	}
}

// heraConfig is how Hera is started.
type heraConfig struct {
	bin, dir     string
	port         int
	publicURL    string
	kratosPublic string
	kratosAdmin  string
	env          []string // extra KEY=VALUE
	logTo        string   // pipe, file or null
	split        *split   // nil: no CPU of its own
}

// heraProc is a running Hera.
type heraProc struct {
	cmd     *exec.Cmd
	pid     string
	done    chan error
	logs    *logSink
	startup startup
}

// start runs Hera with a clean environment and times it from exec to
// answering /health/alive, then /health/ready.
func (c heraConfig) start(ctx context.Context, level, name string) (*heraProc, error) {
	logs, err := newLogSink(c.logTo, filepath.Join(c.dir, "hera-"+name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.bin)
	if c.split != nil {
		cmd = c.split.command(c.bin)
	}
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"HERA_LISTEN=127.0.0.1:" + strconv.Itoa(c.port),
		"HERA_PUBLIC_URL=" + c.publicURL,
		"KRATOS_PUBLIC_URL=" + c.kratosPublic,
		"KRATOS_ADMIN_URL=" + c.kratosAdmin,
		"HERA_LOG_LEVEL=" + level,
	}
	cmd.Env = append(cmd.Env, c.env...)
	cmd.Stdout, cmd.Stderr = logs.w, logs.w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	base := "http://127.0.0.1:" + strconv.Itoa(c.port)

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		logs.close()
		return nil, fmt.Errorf("start hera: %w", err)
	}
	logs.started()
	h := &heraProc{cmd: cmd, pid: strconv.Itoa(cmd.Process.Pid), done: make(chan error, 1), logs: logs}
	go func() { h.done <- cmd.Wait() }()
	poll := func(path string) (time.Duration, error) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := client.Get(base + path)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return time.Since(t0), nil
				}
			}
			select {
			case err := <-h.done:
				h.done <- err
				return 0, fmt.Errorf("hera exited: %v\n%s", err, logs.tail())
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(time.Millisecond):
			}
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("hera not answering %s\n%s", path, logs.tail())
			}
		}
	}
	if h.startup.alive, err = poll("/health/alive"); err == nil {
		h.startup.ready, err = poll("/health/ready")
	}
	if err != nil {
		_ = h.stop()
		return nil, err
	}
	h.startup.rssKB, _ = statusKB(h.pid, "VmRSS")
	return h, nil
}

// stop ends Hera gracefully (SIGTERM), killing it after 20 seconds.
func (h *heraProc) stop() error {
	defer h.logs.close()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
		return nil
	case <-time.After(20 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
		return errors.New("hera did not stop within 20s of SIGTERM")
	}
}

// logSink is where Hera's stdout and stderr (its JSON log) go: a pipe the
// benchmark drains, as a container runtime or journald would (the
// default); a file; or /dev/null.
type logSink struct {
	w        *os.File // Hera's end
	r        *os.File // ours, for a pipe
	path     string   // for a file
	mu       sync.Mutex
	last     []byte // the last bytes read from the pipe
	lines    int
	closed   chan struct{}
	draining bool
}

func newLogSink(to, path string) (*logSink, error) {
	l := &logSink{closed: make(chan struct{})}
	var err error
	switch to {
	case "pipe":
		l.r, l.w, err = os.Pipe()
	case "file":
		l.path = path
		l.w, err = os.Create(path)
	case "null":
		l.w, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	default:
		err = fmt.Errorf("-hera-log: pipe, file or null, not %q", to)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// started closes our copy of Hera's end and, for a pipe, drains it.
func (l *logSink) started() {
	if l.r == nil {
		return
	}
	l.w.Close()
	l.draining = true
	go func() {
		defer close(l.closed)
		buf := make([]byte, 64<<10)
		for {
			n, err := l.r.Read(buf)
			if n > 0 {
				l.mu.Lock()
				l.lines += bytes.Count(buf[:n], []byte{'\n'})
				l.last = append(l.last, buf[:n]...)
				if len(l.last) > 8<<10 {
					l.last = append(l.last[:0], l.last[len(l.last)-4<<10:]...)
				}
				l.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
}

// tail is the end of the log, for error messages.
func (l *logSink) tail() string {
	if l.path != "" {
		b, _ := os.ReadFile(l.path)
		if len(b) > 4<<10 {
			b = b[len(b)-4<<10:]
		}
		return "hera log (" + l.path + "):\n" + string(b)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return "hera log:\n" + string(l.last)
}

func (l *logSink) close() {
	if l.r != nil && l.draining {
		<-l.closed // Hera has exited: the pipe is at its end
		l.r.Close()
		return
	}
	if l.r != nil {
		l.r.Close()
	}
	l.w.Close()
}

// repoRoot finds the directory with Hera's go.mod, from the working
// directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/heraproject/hera\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the Hera repository")
		}
		dir = parent
	}
}

// dbDesc describes Kratos's database.
func (o *options) dbDesc() string {
	if o.db == "postgres" {
		return "PostgreSQL, fsync off"
	}
	if o.sqliteOpts == "" {
		return "SQLite, rollback journal"
	}
	return "SQLite " + o.sqliteOpts
}
