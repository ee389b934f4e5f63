package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireChromium returns the Chromium binary the browser tests drive: $FERRY_CHROMIUM, or
// chromium on the PATH (`make browser` installs Debian's). Without one the test is skipped,
// or fails when the environment requires the full test set (RequireEnv).
func RequireChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("FERRY_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("chromium is not installed: run `make browser` (or `make test`)")
	}
	t.Skip("chromium is not installed: run `make browser` (or `make test`)")
	return ""
}
