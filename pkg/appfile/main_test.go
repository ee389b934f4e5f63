package appfile

import (
	"os"
	"testing"

	"github.com/ferryhq/ferry/pkg/cue/sandbox"
)

// TestMain lets this test binary serve as evaluator processes for the benchmarks that plan in
// a sandbox, as ferry-controller does.
func TestMain(m *testing.M) {
	sandbox.ServeIfWorker()
	os.Exit(m.Run())
}
