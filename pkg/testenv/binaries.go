package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Kubernetes version of the kube-apiserver built for tests, matching k8s.io/* in go.mod.
const (
	KubernetesVersion = "v1.34.2"
	kubernetesMinor   = "34"
)

// Binaries are the control-plane programs the environment runs.
type Binaries struct {
	// Dir holds all of them; envtest's KUBEBUILDER_ASSETS can point here.
	Dir           string
	KubeAPIServer string
	// KubeControllerManager runs the namespace and garbage-collector controllers, so deleted
	// namespaces go away and owner references cascade as on a real cluster.
	KubeControllerManager string
	Etcd                  string
	WorkAgent             string
	// Placement is OCM's placement controller, which turns Placements into PlacementDecisions.
	Placement string
	// OCMAPIDir is the open-cluster-management.io/api module, which holds the OCM CRDs.
	OCMAPIDir string
}

// BuildOptions say where the sources and the cache are.
type BuildOptions struct {
	// RepoRoot is the Ferry checkout; found from the working directory when empty.
	RepoRoot string
	// CacheDir holds built binaries; <RepoRoot>/.cache/testbin when empty.
	CacheDir string
	// Log receives progress; nothing is printed when nil.
	Log io.Writer
}

var buildLDFlags = "-s -w -X k8s.io/component-base/version.gitVersion=" + KubernetesVersion +
	" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=" + kubernetesMinor

// buildPackages are built from hack/tools; each lands as the last element of its path.
var buildPackages = []string{"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
	"./cmd/etcd", "open-cluster-management.io/ocm/cmd/work", "open-cluster-management.io/ocm/cmd/placement"}

func (o *BuildOptions) defaults() error {
	if o.RepoRoot == "" {
		root, err := FindRepoRoot()
		if err != nil {
			return err
		}
		o.RepoRoot = root
	}
	if o.CacheDir == "" {
		o.CacheDir = filepath.Join(o.RepoRoot, ".cache", "testbin")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// FindRepoRoot walks up from the working directory to Ferry's go.mod.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/ferryhq/ferry\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Ferry repository: no go.mod of github.com/ferryhq/ferry above the working directory")
		}
		dir = parent
	}
}

// cacheKey names the binaries of one set of pins, Go version and platform.
func cacheKey(toolsDir string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(toolsDir, f))
		if err != nil {
			return "", fmt.Errorf("read pins: %w", err)
		}
		h.Write(data)
	}
	fmt.Fprintf(h, "%s %s/%s %s %s", runtime.Version(), runtime.GOOS, runtime.GOARCH, buildLDFlags, strings.Join(buildPackages, " "))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// FindBinaries returns the binaries if they are already built at the pinned versions.
func FindBinaries(opts BuildOptions) (*Binaries, bool, error) {
	if err := opts.defaults(); err != nil {
		return nil, false, err
	}
	toolsDir := filepath.Join(opts.RepoRoot, "hack", "tools")
	key, err := cacheKey(toolsDir)
	if err != nil {
		return nil, false, err
	}
	b := binariesIn(filepath.Join(opts.CacheDir, key))
	for _, f := range []string{b.KubeAPIServer, b.KubeControllerManager, b.Etcd, b.WorkAgent, b.Placement} {
		if _, err := os.Stat(f); err != nil {
			return b, false, nil
		}
	}
	return b, true, nil
}

func binariesIn(dir string) *Binaries {
	return &Binaries{Dir: dir, KubeAPIServer: filepath.Join(dir, "kube-apiserver"), KubeControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Etcd: filepath.Join(dir, "etcd"), WorkAgent: filepath.Join(dir, "work"), Placement: filepath.Join(dir, "placement")}
}

// EnsureBinaries builds kube-apiserver, kube-controller-manager, etcd, the OCM work agent and
// OCM's placement controller from hack/tools unless they
// are already in the cache, and locates the OCM CRDs. Concurrent callers (parallel test
// packages) wait for one build.
func EnsureBinaries(ctx context.Context, opts BuildOptions) (*Binaries, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	toolsDir := filepath.Join(opts.RepoRoot, "hack", "tools")
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(opts.CacheDir, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	b, ok, err := FindBinaries(opts)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := build(ctx, opts, toolsDir, b.Dir); err != nil {
			return nil, err
		}
	}
	b.OCMAPIDir, err = moduleDir(ctx, toolsDir, "open-cluster-management.io/api")
	if err != nil {
		return nil, err
	}
	return b, nil
}

func build(ctx context.Context, opts BuildOptions, toolsDir, dest string) error {
	partial := dest + ".partial"
	if err := os.RemoveAll(partial); err != nil {
		return err
	}
	fmt.Fprintf(opts.Log, "testenv: building kube-apiserver and kube-controller-manager %s, etcd, the OCM work agent and placement controller into %s\n", KubernetesVersion, dest)
	fmt.Fprintf(opts.Log, "testenv: the first build downloads ~350 MB of modules and takes 7-9 minutes on 2 cores; later runs reuse it\n")
	args := append([]string{"build", "-trimpath", "-ldflags", buildLDFlags, "-o", partial + string(filepath.Separator)}, buildPackages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly -buildvcs=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start go build: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ticker := time.NewTicker(30 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("build control-plane binaries in %s: %w\n%s", toolsDir, err, out.String())
			}
			if err := os.Rename(partial, dest); err != nil {
				return err
			}
			fmt.Fprintf(opts.Log, "testenv: built in %s\n", time.Since(start).Round(time.Second))
			return nil
		case <-ticker.C:
			fmt.Fprintf(opts.Log, "testenv: still building (%s)...\n", time.Since(start).Round(time.Second))
		}
	}
}

// moduleDir finds a module of hack/tools in the module cache, downloading it if needed.
func moduleDir(ctx context.Context, toolsDir, module string) (string, error) {
	for _, args := range [][]string{{"mod", "download", module}, {"list", "-m", "-f", "{{.Dir}}", module}} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = toolsDir
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly -buildvcs=false")
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				stderr = ee.Stderr
			}
			return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr)
		}
		if args[0] == "list" {
			dir := strings.TrimSpace(string(out))
			if dir == "" {
				return "", fmt.Errorf("module %s is not in the module cache", module)
			}
			return dir, nil
		}
	}
	return "", nil
}

// lockFile takes an exclusive lock, waiting for other holders.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
