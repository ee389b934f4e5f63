package e2e

import (
	"os"
	"testing"

	"github.com/ferryhq/ferry/pkg/cue/sandbox"
)

// TestMain lets this test binary serve as the controller's evaluator processes: the controller
// these tests run starts them from its own executable, as ferry-controller does.
func TestMain(m *testing.M) {
	sandbox.ServeIfWorker()
	os.Exit(m.Run())
}
