// Command hera serves the login and account UI for Ory Kratos and Ory Hydra.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hera:", err)
		stop()
		code := 1
		if ee := (exitError{}); errors.As(err, &ee) {
			code = ee.code
		}
		os.Exit(code)
	}
}
