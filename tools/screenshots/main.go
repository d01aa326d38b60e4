// Command screenshots photographs Hera's account pages — sign-in, settings,
// consent, connected apps, sessions and account deletion — at 1280 and
// 375 px wide, in light and dark mode, in headless Chromium: 24 PNGs named
// <page>-<width>-<light|dark>.png.
//
// It works against a running dev stack (scripts/dev.sh: Hera, Kratos and
// Hydra on their usual ports), or starts one itself from a checkout of any
// revision (-checkout), so that pages can be compared before and after a
// change:
//
//	go run ./tools/screenshots -out /tmp/after
//	git archive 161daaa | tar -x -C /tmp/hera-161daaa
//	go run ./tools/screenshots -checkout /tmp/hera-161daaa -out /tmp/before
//
// It creates the state each page needs through Kratos's and Hydra's admin
// APIs and the browser: a user (ada.lovelace@example.com; an earlier run's
// is deleted first) signed in twice, the second time from another browser
// (Firefox on Linux, for the sessions page); an OAuth2 client ("Example
// App") whose consent page is photographed and then allowed, so that the
// connected apps list it; settings as they are before TOTP is set up, so
// the enrolment shows. With -more it adds, at 1280 px in light mode, the
// first sign-up step, the settings in German and the not-found error page.
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
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		stop()
		os.Exit(1)
	}
}
