package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkDryRunProcess times `ferry dry-run` as a whole process: start-up, loading the
// built-in definitions, compiling the templates it uses, rendering and printing.
func BenchmarkDryRunProcess(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build ferry: %v\n%s", err, out)
	}
	cases := []struct {
		name string
		args []string
	}{
		{"multi-env", []string{"dry-run", "-f", "../../examples/multi-env/app.yaml", "--clusters", "../../examples/multi-env/clusters.yaml"}},
		{"components=50", []string{"dry-run", "-f", "../../pkg/appfile/testdata/bench/components-50.yaml"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(bin, c.args...).CombinedOutput(); err != nil {
					b.Fatalf("ferry %v: %v\n%s", c.args, err, out)
				}
			}
		})
	}
}
