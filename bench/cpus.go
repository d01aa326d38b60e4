package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// split is the -split layout: Hera alone on the last CPU, everything else
// (this load generator, PostgreSQL, Kratos) on the others — as when Hera
// runs in its own container and does not take CPU from Kratos. Without
// -split all of them share every CPU, the harder case.
type split struct {
	heraCPU int   // the CPU Hera runs on
	rest    []int // the CPUs of everything else
}

func newSplit() (*split, error) {
	n := runtime.NumCPU()
	if n < 2 {
		return nil, fmt.Errorf("-split needs at least 2 CPUs, this machine has %d", n)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return nil, fmt.Errorf("-split starts Hera with taskset (Debian's util-linux): %w", err)
	}
	s := &split{heraCPU: n - 1}
	for i := range n - 1 {
		s.rest = append(s.rest, i)
	}
	return s, nil
}

// pinSelf moves every thread of this process to the other CPUs; threads
// and processes started afterwards (PostgreSQL, Kratos) inherit it.
func (s *split) pinSelf() error {
	var set unix.CPUSet
	for _, c := range s.rest {
		set.Set(c)
	}
	// Twice, for a thread started while the first pass ran.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("sched_setaffinity: %w", err)
			}
		}
	}
	runtime.GOMAXPROCS(len(s.rest))
	return nil
}

// command is how Hera is started under -split: taskset execs it, so the
// process ID stays Hera's for the CPU and memory readings.
func (s *split) command(bin string) *exec.Cmd {
	return exec.Command("taskset", "--cpu-list", strconv.Itoa(s.heraCPU), bin)
}

// describe is the layout for the report.
func (s *split) describe() string {
	if s == nil {
		return "Load generator, Kratos and Hera share these CPUs."
	}
	return fmt.Sprintf("Split (-split): Hera alone on CPU %d; load generator, Kratos and PostgreSQL on CPU %s.", s.heraCPU, cpuList(s.rest))
}

func cpuList(cs []int) string {
	out := ""
	for i, c := range cs {
		if i > 0 {
			out += ","
		}
		out += strconv.Itoa(c)
	}
	return out
}
