// Command devstack runs Hera's development stack: real Kratos and Hydra on
// SQLite, a console mailbox for the codes Kratos sends, a demo OAuth2 client,
// and Hera itself with the caller's environment. scripts/dev.sh runs it.
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
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		stop()
		os.Exit(1)
	}
}
