// Command ferry is the Ferry CLI: render Applications offline, inspect definitions and, with
// a cluster, deliver Applications.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Ctrl-C cancels what a command waits for (up --wait, delete --wait) instead of killing it
	// mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
