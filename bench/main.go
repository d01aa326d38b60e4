// Command bench is Hera's load benchmark against its physical limit, Kratos
// itself. One run starts what it needs — PostgreSQL (Debian's package, as
// production Kratos uses a server database; -db sqlite keeps the dev
// stack's SQLite), a real Kratos through internal/stack (log level warning)
// and Hera as a separate process (bin/hera, built from ./cmd/hera), so its
// memory and CPU can be read from /proc — and measures side by side, with
// the same load generator, the same requests straight at Kratos and through
// Hera:
//
//  1. the login page: Kratos's flow fetch vs Hera rendering that flow
//     (and, for scale, the same fetch through Hera's proxy, no rendering);
//  2. whoami: Kratos vs Hera's /api/kratos/ proxy;
//  3. the welcome page with a session vs Kratos's whoami;
//  4. a password sign-in: Kratos vs Hera's guarded submit (memory lockout
//     store, the default), a fresh flow and CSRF cookie per request.
//
// Each direct request is also sent through Debian's nginx in front of Kratos
// (started by the bench, keep-alive upstream, no logging; -nginx=false
// leaves it out): the cheapest hop an operator would use, so Hera's pages
// and proxy are reported against it too.
//
// It reports requests/s, p50/p99 latency and errors for each, the ratios
// Hera/direct and Hera/nginx, the CPU each process spent per request, Hera's
// peak RSS and its start-up time. From the repository root:
//
//	go run ./bench                     # 64 and 16 connections, 8 s a side, Hera at info and warn
//	go run ./bench -c 64 -log info     # the main table only
//	go run ./bench -c 64 -log info -rounds 3 -d 12s   # three rounds, with their spread
//	go run ./bench -split              # Hera on a CPU of its own
//	go run ./bench -h                  # every option
//
// docs/benchmarks.md has the figures of the reference machine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}
