// Command testenv brings a local hub and managed clusters up or down, for trying Ferry by hand
// and for scripts:
//
//	go run ./hack/testenv up --dir DIR [--clusters cluster1=env=staging,cluster2=env=prod]
//	go run ./hack/testenv down --dir DIR
//	go run ./hack/testenv build
//
// `up` builds what is missing, starts everything in the background, writes DIR/hub.kubeconfig
// and DIR/<cluster>.kubeconfig, prints them and exits 0 once all is ready. Several labels of one
// cluster are joined with +, e.g. c1=env=prod+region=eu. `down` stops every process `up` started
// and removes its state. `build` only builds the binaries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ferryhq/ferry/pkg/testenv"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: testenv up --dir DIR [--clusters name=key=value+key=value,...] | down --dir DIR | build")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory for state, logs and kubeconfigs")
	clusters := fs.String("clusters", "", "managed clusters: name=key=value+key=value,name2=... (none: only the hub)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var err error
	switch args[0] {
	case "build":
		if _, err = testenv.EnsureBinaries(ctx, testenv.BuildOptions{Log: stdout}); err == nil {
			_, err = testenv.EnsurePrometheus(ctx, testenv.BuildOptions{Log: stdout})
		}
	case "up":
		err = up(ctx, *dir, *clusters, stdout)
	case "down":
		if *dir == "" {
			fmt.Fprintln(stderr, "down needs --dir")
			return 2
		}
		err = testenv.StopDir(*dir)
		if err == nil {
			fmt.Fprintf(stdout, "stopped the environment in %s\n", *dir)
		}
	default:
		fmt.Fprintf(stderr, "unknown command %q: use up, down or build\n", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

func up(ctx context.Context, dir, clusterFlag string, out io.Writer) error {
	if dir == "" {
		return errors.New("up needs --dir")
	}
	specs, err := ParseClusters(clusterFlag)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	bins, err := testenv.EnsureBinaries(ctx, testenv.BuildOptions{Log: out})
	if err != nil {
		return err
	}
	env, err := testenv.Start(ctx, testenv.Options{Dir: abs, Clusters: specs, Binaries: bins, Log: out, Detach: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "hub: %s\n", env.Hub.Kubeconfig)
	for _, c := range env.Managed {
		fmt.Fprintf(out, "%s: %s\n", c.Name, c.Kubeconfig)
	}
	fmt.Fprintf(out, "logs: %s\nstop with: go run ./hack/testenv down --dir %s\n", filepath.Join(abs, "logs"), dir)
	return nil
}

// ParseClusters reads `name=key=value+key=value,name2`, e.g. c1=env=prod+region=eu,c2=env=dev.
func ParseClusters(s string) ([]testenv.ClusterSpec, error) {
	var out []testenv.ClusterSpec
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, item := range strings.Split(s, ",") {
		name, labels, _ := strings.Cut(strings.TrimSpace(item), "=")
		if name == "" {
			return nil, fmt.Errorf("--clusters: empty cluster name in %q", item)
		}
		spec := testenv.ClusterSpec{Name: name, Labels: map[string]string{}}
		if labels != "" {
			for _, kv := range strings.Split(labels, "+") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return nil, fmt.Errorf("--clusters: label %q of cluster %s must be key=value", kv, name)
				}
				spec.Labels[k] = v
			}
		}
		out = append(out, spec)
	}
	return out, nil
}
