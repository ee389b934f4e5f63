package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RequireEnv is the environment variable `make test` sets so that tests needing the control
// plane build it when missing instead of skipping.
const RequireEnv = "FERRY_REQUIRE_TESTBIN"

// RequireBinaries returns the control-plane binaries for a test. When they are not built the
// test is skipped with a hint — unless FERRY_REQUIRE_TESTBIN=1, then they are built.
func RequireBinaries(t testing.TB) *Binaries {
	t.Helper()
	if _, found, err := FindBinaries(BuildOptions{}); err != nil {
		t.Fatalf("find control-plane binaries: %v", err)
	} else if !found && os.Getenv(RequireEnv) != "1" {
		t.Skipf("control-plane binaries are not built: run `make testbin` (or `make test`) first")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	bins, err := EnsureBinaries(ctx, BuildOptions{Log: testLog{t}})
	if err != nil {
		t.Fatalf("build control-plane binaries: %v", err)
	}
	return bins
}

// StartEnvtest starts controller-runtime's envtest (a real kube-apiserver and etcd) with
// Ferry's CRDs from config/crd installed, and stops it when the test ends.
func StartEnvtest(t testing.TB) *rest.Config {
	t.Helper()
	return startEnvtest(t)
}

// StartEnvtestEnv is StartEnvtest returning the environment, for tests that add users
// (env.AddUser) with their own RBAC; env.Config is the admin's.
func StartEnvtestEnv(t testing.TB) *envtest.Environment {
	t.Helper()
	return startEnvtestEnv(t)
}

func startEnvtest(t testing.TB) *rest.Config {
	t.Helper()
	return startEnvtestEnv(t).Config
}

func startEnvtestEnv(t testing.TB) *envtest.Environment {
	t.Helper()
	bins := RequireBinaries(t)
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: bins.Dir,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd")},
		ErrorIfCRDPathMissing: true,
	}
	if _, err := env.Start(); err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	return env
}

// FreePortForTest is FreePort for a test.
func FreePortForTest(t testing.TB) int {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return port
}

// StartForTest starts an environment for a test and stops it when the test ends, also when it
// fails.
func StartForTest(t testing.TB, clusters ...ClusterSpec) *Env {
	t.Helper()
	return StartForTestWith(t, Options{Clusters: clusters})
}

// StartForTestWith is StartForTest with more options (Binaries and Log are filled in).
func StartForTestWith(t testing.TB, opts Options) *Env {
	t.Helper()
	bins := RequireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts.Binaries, opts.Log = bins, testLog{t}
	env, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start test environment: %v", err)
	}
	t.Cleanup(env.Stop)
	return env
}

// testLog writes progress to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
