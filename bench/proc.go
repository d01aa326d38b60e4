package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat (100 on every mainstream architecture).
const clockTick = 100

// cpuTime is a process's user plus system CPU time so far, from
// /proc/<pid>/stat ("self" for this process).
func cpuTime(pid string) (time.Duration, error) {
	return procCPU(pid, false)
}

// procCPU is cpuTime, plus with reaped the time of the children the process
// has waited for (cutime, cstime).
func procCPU(pid string, reaped bool) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it start behind the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	var ticks int64
	fields := f[11:13]
	if reaped {
		fields = f[11:15]
	}
	for _, s := range fields {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%s/stat: bad utime/stime", pid)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// statusKB reads a "kB" field of /proc/<pid>/status, e.g. VmHWM (peak
// resident set) or VmRSS.
func statusKB(pid, field string) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == field {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%s/status: no %s", pid, field)
}

// childPID finds a direct child of this process by its command name
// (/proc/<pid>/comm): internal/stack starts Kratos without exposing its
// process.
func childPID(comm string) (string, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil {
		return "", err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, pid := range strings.Fields(string(b)) {
			c, err := os.ReadFile(filepath.Join("/proc", pid, "comm"))
			if err == nil && strings.TrimSpace(string(c)) == comm {
				return pid, nil
			}
		}
	}
	return "", fmt.Errorf("no child process named %q", comm)
}

// cpuMeter samples the CPU time of several processes at once.
type cpuMeter struct {
	pids  map[string]string // label → pid
	trees map[string]string // label → a process whose children count too (PostgreSQL, nginx); "" pids are skipped
}

// sample returns each process's CPU time so far, and under "machine" that
// of every process on the machine.
func (m cpuMeter) sample() map[string]time.Duration {
	out := map[string]time.Duration{}
	if d, err := machineBusy(); err == nil {
		out["machine"] = d
	}
	for label, pid := range m.pids {
		if d, err := cpuTime(pid); err == nil {
			out[label] = d
		}
	}
	for label, pid := range m.trees {
		if pid == "" {
			continue
		}
		// PostgreSQL's postmaster and its backends, nginx's master and
		// its workers.
		out[label] = treeCPU(pid)
	}
	return out
}

// treeCPU is the CPU time of pid and its direct children, those alive and
// those that have ended (PostgreSQL's backends come and go with Kratos's
// connections).
func treeCPU(pid string) time.Duration {
	total, _ := procCPU(pid, true)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == pid { // f[1] is field 4, the parent's pid
			if d, err := cpuTime(filepath.Base(filepath.Dir(st))); err == nil {
				total += d
			}
		}
	}
	return total
}

// others is the CPU that processes other than the measured ones used
// between two samples.
func others(d map[string]time.Duration) time.Duration {
	o := d["machine"]
	for k, v := range d {
		if k != "machine" {
			o -= v
		}
	}
	return max(0, o)
}

// waitQuiet waits until the whole machine — other people's processes, and
// Kratos still finishing requests of the last phase — has used less than
// a tenth of a core for a second, or until limit has passed; it returns how
// long it waited and whether the machine got quiet.
func (m cpuMeter) waitQuiet(ctx context.Context, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for {
		before := m.sample()
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(time.Second):
		}
		if d := diff(m.sample(), before); d["machine"] < 100*time.Millisecond {
			return time.Since(start), true
		}
		if time.Since(start) >= limit {
			return time.Since(start), false
		}
	}
}

func diff(after, before map[string]time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// machineBusy is the CPU time every process on the machine has spent so far
// (/proc/stat's user, nice, system and steal).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: malformed")
	}
	var busy int64
	for i, s := range f[1:] {
		// Skip idle and iowait, and irq and softirq: the kernel's share of
		// the loopback traffic lands there, not in any process's stime.
		if i == 3 || i == 4 || i == 5 || i == 6 {
			continue
		}
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTick, nil
}
