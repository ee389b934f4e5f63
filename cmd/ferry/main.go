// Command ferry is the Ferry CLI: render Applications offline, inspect definitions and, with
// a cluster, deliver Applications.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// A command runs for a fraction of a second and renders with CUE, which makes garbage
	// fast: collecting less often makes `ferry dry-run` of 50 components about a quarter
	// faster for some 20 MB more memory. GOGC, when set, wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// Ctrl-C cancels what a command waits for (up --wait, delete --wait) instead of killing it
	// mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
