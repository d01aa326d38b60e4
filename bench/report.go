package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// machineInfo describes where the figures come from.
type machineInfo struct {
	cpus          int
	cpuModel      string
	memory        string
	kernel        string
	goVersion     string
	kratosVersion string
	loadBefore    string // /proc/loadavg at the start and the end of the run
	loadAfter     string
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func machine() machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), goVersion: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpuModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "MemTotal" {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
				m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	// bin/kratos reports "master": the pinned version is in tools/kratos.
	if b, err := os.ReadFile(filepath.Join("tools", "kratos", "go.mod")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "github.com/ory/kratos" {
				m.kratosVersion = f[1]
			}
		}
	}
	return m
}

// report writes the results as Markdown.
func report(w io.Writer, o *options, m machineInfo, starts []startup, runs []heraRun, phases []phase, kratosHWMKB int64) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Hera load benchmark\n\n")
	p("Machine: %d CPUs (%s), %s memory, Linux %s, %s; Kratos %s (%s, log level warning, bcrypt cost %d). ",
		m.cpus, m.cpuModel, m.memory, m.kernel, m.goVersion, or(m.kratosVersion, "?"), o.dbDesc(), o.bcryptCost)
	p("%s Load average before the run %s, after it %s.\n\n", o.split.describe(), m.loadBefore, m.loadAfter)
	if o.rounds > 1 {
		p("Each side of a comparison: %v timed, in %d rounds of direct, Hera, Hera, direct (%v each), after a %v warm-up; Hera/direct is over all rounds, with the lowest and highest round in brackets; one keep-alive connection per concurrent client; every answer checked (status and content).\n\n", o.dur, o.rounds, o.dur/time.Duration(2*o.rounds), o.warmup)
	} else {
		p("Each side of a comparison: %v timed, in two halves run direct, Hera, Hera, direct, after a %v warm-up; one keep-alive connection per concurrent client; every answer checked (status and content).\n\n", o.dur, o.warmup)
	}

	titles := map[string]string{}
	for _, sc := range scenarios() {
		titles[sc.key] = sc.title
	}
	for _, level := range o.levels {
		for _, conc := range o.concs {
			p("## %d connections, HERA_LOG_LEVEL=%s%s\n\n", conc, level, map[bool]string{true: " (as shipped)"}[level == "info"])
			p("| Scenario | Kratos req/s | p50 | p99 | err | Hera req/s | p50 | p99 | err | Hera/direct | Hera CPU/req | Kratos (+DB) CPU/req (direct → via Hera) | load generator CPU/req (direct → via Hera) | other processes, cores (direct → via Hera) |\n")
			p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
			for _, ph := range phases {
				if ph.level != level || ph.conc != conc {
					continue
				}
				d, h := ph.direct, ph.hera
				name := ph.scenario
				if ph.noisy {
					name += " ‡"
				}
				p("| %s | %s | %s | %s | %d | %s | %s | %s | %d | %s | %s | %s → %s | %s → %s | %s → %s |\n",
					name, rps(d), ms(d.pct(50)), ms(d.pct(99)), d.errs,
					rps(h), ms(h.pct(50)), ms(h.pct(99)), h.errs, ratioCell(ph),
					perReq(ph.cpuHera["hera"], h.n),
					perReq(ph.cpuDirect["kratos"]+ph.cpuDirect["postgres"], d.n), perReq(ph.cpuHera["kratos"]+ph.cpuHera["postgres"], h.n),
					perReq(ph.cpuDirect["bench"], d.n), perReq(ph.cpuHera["bench"], h.n),
					othersCores(ph.cpuDirect, d.elapsed), othersCores(ph.cpuHera, h.elapsed))
			}
			p("\n")
			if o.nginx {
				p("Against the cheapest hop: the direct requests through nginx in front of Kratos (keep-alive upstream, no logging).\n\n")
				p("| Scenario | Kratos req/s | via nginx req/s | p50 | p99 | err | nginx/direct | Hera req/s | Hera/nginx | nginx CPU/req | Hera CPU/req |\n")
				p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
				for _, ph := range phases {
					if ph.level != level || ph.conc != conc {
						continue
					}
					d, n, h := ph.direct, ph.nginx, ph.hera
					p("| %s | %s | %s | %s | %s | %d | %.2f× | %s | **%.2f×** | %s | %s |\n",
						ph.scenario, rps(d), rps(n), ms(n.pct(50)), ms(n.pct(99)), n.errs, ratio(n, d),
						rps(h), ratio(h, n), perReq(ph.cpuNginx["nginx"], n.n), perReq(ph.cpuHera["hera"], h.n))
				}
				p("\n")
			}
		}
	}
	p("Scenarios:\n\n")
	for _, sc := range scenarios() {
		if slices.Contains(o.only, sc.key) {
			p("- **%s**: %s\n", sc.key, sc.title)
		}
	}
	p("\nCPU/req is the process's utime+stime during the timed halves (/proc/<pid>/stat, 10 ms ticks) over the requests answered; on a saturated machine the CPU/req of all processes adds up to about (CPUs ÷ req/s). ")
	p("\"Other processes\" is the CPU the rest of the machine used meanwhile (/proc/stat user+system+steal, less the processes measured), in cores: other people's work, and kernel threads such as the ext4 and block workers that write the logs. ")
	p("Each half starts once the whole machine has been idle for a second (-quiet); ‡ marks a phase where it did not get idle in time. † marks a phase that used up its pool of fresh flows before its time (its rate is over the shorter time).\n\n")

	p("## Hera process\n\n")
	p("| HERA_LOG_LEVEL | alive after exec | ready after exec | RSS when ready | peak RSS (VmHWM) over the load run | Hera CPU over the load run | Kratos (+DB) CPU over the load run |\n")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range runs {
		p("| %s | %s | %s | %.1f MB | **%.1f MB** | %.1f s | %.1f s |\n", r.level, ms(r.ready.alive), ms(r.ready.ready),
			float64(r.ready.rssKB)/1024, float64(r.peakRSSKB)/1024, r.cpu.Seconds(), r.kratosCPU.Seconds())
	}
	if len(starts) > 0 {
		var alive, ready []time.Duration
		for _, s := range starts {
			alive = append(alive, s.alive)
			ready = append(ready, s.ready)
		}
		slices.Sort(alive)
		slices.Sort(ready)
		p("\nStart-up over %d cold starts (exec → first 200): /health/alive min %s, median %s, max %s; /health/ready (asks Kratos) min %s, median %s, max %s.\n",
			len(starts), ms(alive[0]), ms(alive[len(alive)/2]), ms(alive[len(alive)-1]),
			ms(ready[0]), ms(ready[len(ready)/2]), ms(ready[len(ready)-1]))
	}
	if kratosHWMKB > 0 {
		p("\nKratos peak RSS (VmHWM) over the whole run: %.1f MB.\n", float64(kratosHWMKB)/1024)
	}

	// The targets, from the first concurrency at the first level.
	if len(o.concs) == 0 || len(o.levels) == 0 || len(runs) == 0 {
		return
	}
	conc, level := o.concs[0], o.levels[0]
	p("\n## Targets (%d connections, HERA_LOG_LEVEL=%s)\n\n", conc, level)
	p("| Target | Measured | |\n| --- | ---: | --- |\n")
	want := map[string]float64{"render": 0.85, "whoami": 0.9, "submit": 0.9}
	errs := 0
	for _, ph := range phases {
		if ph.level != level || ph.conc != conc {
			continue
		}
		errs += ph.direct.errs + ph.hera.errs + ph.nginx.errs
		if t, ok := want[ph.scenario]; ok {
			r := ratio(ph.hera, ph.direct)
			p("| %s throughput ≥ %.2f× direct | %s | %s |\n", ph.scenario, t, strings.ReplaceAll(ratioCell(ph), "**", ""), verdict(r >= t))
		}
	}
	p("| zero errors at %d connections | %d | %s |\n", conc, errs, verdict(errs == 0))
	rss := float64(runs[0].peakRSSKB) / 1024
	p("| Hera RSS ≤ 40 MB | %.1f MB | %s |\n", rss, verdict(rss <= 40))
	if len(starts) > 0 {
		var alive, ready []time.Duration
		for _, s := range starts {
			alive = append(alive, s.alive)
			ready = append(ready, s.ready)
		}
		slices.Sort(alive)
		slices.Sort(ready)
		a, r := alive[len(alive)/2], ready[len(ready)/2]
		p("| ready ≤ 200 ms after start (median of %d: /health/alive; /health/ready) | %s; %s | %s |\n", len(starts), ms(a), ms(r), verdict(a <= 200*time.Millisecond))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func rps(r result) string {
	s := fmt.Sprintf("%.0f", r.rps())
	if r.exhausted {
		s += "†"
	}
	return s
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
}

func ratio(h, d result) float64 {
	if d.rps() == 0 {
		return 0
	}
	return h.rps() / d.rps()
}

// ratioCell is Hera/direct over the whole phase, with the range of its
// rounds when there were several.
func ratioCell(ph phase) string {
	s := fmt.Sprintf("**%.2f×**", ratio(ph.hera, ph.direct))
	if len(ph.roundRatios) > 1 {
		s += fmt.Sprintf(" (%.2f–%.2f)", slices.Min(ph.roundRatios), slices.Max(ph.roundRatios))
	}
	return s
}

func perReq(cpu time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(cpu.Microseconds())/float64(n))
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// othersCores is the CPU, in cores, that processes other than Hera, Kratos,
// its database and the load generator used during a phase.
func othersCores(cpu map[string]time.Duration, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", others(cpu).Seconds()/elapsed.Seconds())
}
