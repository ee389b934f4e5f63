package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnsurePrometheus returns the path of a Prometheus server for tests, taken from Debian's
// prometheus package (apt-get download, dpkg-deb -x: nothing is installed on the machine) into
// <cache>/prometheus/ unless it is there already.
func EnsurePrometheus(ctx context.Context, opts BuildOptions) (string, error) {
	if err := opts.defaults(); err != nil {
		return "", err
	}
	dir := filepath.Join(opts.CacheDir, "prometheus")
	bin := filepath.Join(dir, "prometheus")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(opts.CacheDir, ".prometheus.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another process fetched it while this one waited
	}
	work, err := os.MkdirTemp(opts.CacheDir, "prometheus-download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	fmt.Fprintf(opts.Log, "testenv: fetching Prometheus from Debian's prometheus package into %s\n", dir)
	download := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "download", "prometheus")
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download prometheus: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := download(); err != nil {
		// A fresh machine may have no package lists yet.
		if out, uerr := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("%w (and apt-get update: %w: %s)", err, uerr, strings.TrimSpace(string(out)))
		}
		if err := download(); err != nil {
			return "", err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(work, "prometheus_*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download prometheus: expected one package in %s, found %d", work, len(debs))
	}
	root := filepath.Join(work, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb -x %s: %w: %s", filepath.Base(debs[0]), err, strings.TrimSpace(string(out)))
	}
	partial := dir + ".partial"
	if err := os.RemoveAll(partial); err != nil {
		return "", err
	}
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(root, "usr", "bin", "prometheus"), filepath.Join(partial, "prometheus")); err != nil {
		return "", fmt.Errorf("the package holds no usr/bin/prometheus: %w", err)
	}
	if err := os.WriteFile(filepath.Join(partial, "PACKAGE"), []byte(filepath.Base(debs[0])+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return bin, os.Rename(partial, dir)
}

// StartPrometheus runs a real Prometheus server on loopback for a test, scraping itself (job
// "prometheus") and the given targets (host:port, job "app") every second, and returns its URL
// once it is ready. It is stopped when the test ends. Without the binary the test is skipped
// with a hint, unless FERRY_REQUIRE_TESTBIN=1 (as `make test` sets): then it is fetched.
func StartPrometheus(t testing.TB, targets ...string) string {
	t.Helper()
	opts := BuildOptions{Log: testLog{t}}
	if err := opts.defaults(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(opts.CacheDir, "prometheus", "prometheus")); err != nil && os.Getenv(RequireEnv) != "1" {
		t.Skipf("Prometheus is not fetched: run `make testbin` (or `make test`) first")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := EnsurePrometheus(ctx, opts)
	if err != nil {
		t.Fatalf("fetch Prometheus: %v", err)
	}
	dir := t.TempDir()
	port := FreePortForTest(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	config := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: prometheus\n    static_configs: [{targets: [%q]}]\n", addr)
	if len(targets) > 0 {
		quoted := make([]string, len(targets))
		for i, target := range targets {
			quoted[i] = strconv.Quote(target)
		}
		config += fmt.Sprintf("  - job_name: app\n    static_configs: [{targets: [%s]}]\n", strings.Join(quoted, ", "))
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess(dir, "prometheus", bin, []string{"--config.file=" + filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(5 * time.Second) })
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(p.Log)
			t.Fatalf("Prometheus on %s is not ready after 30s: %v\n%s", addr, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
