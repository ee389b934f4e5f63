// Command ferry is the Ferry CLI: render Applications offline, inspect definitions and, with
// a cluster, deliver Applications.
package main

import (
	"os"
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
