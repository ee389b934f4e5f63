// Command demo runs Ferry's main job end to end on this machine, with no cluster to start
// from (`make demo`):
//
//  1. builds what is missing: the test control plane, ferry and ferry-controller;
//  2. starts a hub and two managed clusters, staging (env=staging) and prod (env=prod), each
//     with a real OCM work agent;
//  3. installs Ferry on the hub with admission on (ferry install --no-controller --webhook-url)
//     and runs ferry-controller serving the webhook, so every Application is checked before it
//     is stored, as with the default in-cluster install;
//  4. applies examples/multi-env/app.yaml with `ferry up --wait`: staging first, then the
//     workflow suspends for approval;
//  5. approves with `ferry workflow resume`, waits until prod runs with its overrides;
//  6. shows where everything is, then tears it all down — or keeps it with KEEP=1 (then
//     `make demo-down` stops it).
//
// The clusters have no kubelet, so pods never run: the demo reports each Deployment ready on
// the managed clusters itself, as their kubelets would, and says so.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "down" {
		if err := down(); err != nil {
			fmt.Fprintln(os.Stderr, "demo down:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func root() (string, error) { return testenv.FindRepoRoot() }

func demoDir() (string, error) {
	r, err := root()
	return filepath.Join(r, ".cache", "demo"), err
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	keep := os.Getenv("KEEP") == "1"
	repo, err := root()
	if err != nil {
		return err
	}
	dir, err := demoDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "env")); err == nil {
		return errors.New("a demo is still running (KEEP=1 earlier?): stop it with make demo-down")
	}
	bin := filepath.Join(dir, "bin")

	say("Building the test control plane (first time: several minutes, then cached), ferry and ferry-controller")
	bins, err := testenv.EnsureBinaries(ctx, testenv.BuildOptions{Log: os.Stdout})
	if err != nil {
		return err
	}
	for _, cmd := range []string{"ferry", "ferry-controller"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, cmd), "./cmd/"+cmd)
		build.Dir, build.Stdout, build.Stderr = repo, os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build %s: %w", cmd, err)
		}
	}

	say("Starting a hub and two managed clusters: staging (env=staging) and prod (env=prod, region=eu)")
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(dir, "env"), Binaries: bins, Log: os.Stdout, Detach: keep,
		Clusters: []testenv.ClusterSpec{
			{Name: "staging", Labels: map[string]string{"env": "staging"}},
			{Name: "prod", Labels: map[string]string{"env": "prod", "region": "eu"}},
		}})
	if err != nil {
		return err
	}
	if !keep {
		defer func() { say("Tearing down"); env.Stop(); _ = os.RemoveAll(env.Dir) }()
	}
	say("As a platform team: on each managed cluster, namespace shop, where ServiceAccount %s (the executor of shop's ManifestWorks) may do anything in it and nothing elsewhere", install.DefaultExecutor)
	for _, c := range env.Managed {
		spoke, err := ferryscheme.NewClient(c.Config)
		if err != nil {
			return err
		}
		if err := testenv.GrantExecutor(ctx, spoke, "shop", install.DefaultExecutor, "cluster-admin"); err != nil {
			return fmt.Errorf("cluster %s: %w", c.Name, err)
		}
	}
	kubeconfig := env.Hub.Kubeconfig
	ferry := func(args ...string) error {
		args = append(args, "--kubeconfig", kubeconfig)
		fmt.Printf("\n$ ferry %s\n", strings.Join(args[:len(args)-2], " "))
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "ferry"), args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}

	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	say("Installing Ferry on the hub, with its admission webhook served by the controller outside the cluster")
	if err := ferry("install", "--no-controller", "--webhook-url", fmt.Sprintf("https://127.0.0.1:%d", port)); err != nil {
		return err
	}
	say("Running ferry-controller against the hub (log: %s)", filepath.Join(env.Dir, "logs", "ferry-controller.log"))
	ctl, err := startController(filepath.Join(bin, "ferry-controller"), kubeconfig, env.Dir, port, keep)
	if err != nil {
		return err
	}
	if !keep {
		defer func() { _ = ctl.Process.Signal(syscall.SIGTERM); _, _ = ctl.Process.Wait() }()
	}

	hub, err := ferryscheme.NewClient(env.Hub.Config)
	if err != nil {
		return err
	}
	if err := hub.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if err := waitAdmission(ctx, hub); err != nil {
		return err
	}
	say("There is no kubelet here: the demo reports Deployments on staging and prod ready, as their kubelets would")
	for _, c := range env.Managed {
		spoke, err := ferryscheme.NewClient(c.Config)
		if err != nil {
			return err
		}
		go testenv.PlayKubelet(ctx, spoke, 300*time.Millisecond)
	}

	app := filepath.Join(repo, "examples", "multi-env", "app.yaml")
	say("Delivering examples/multi-env/app.yaml: staging first, then the workflow waits for approval")
	if err := ferry("cluster", "list"); err != nil {
		return err
	}
	if err := ferry("up", "-f", app, "--wait", "--timeout", "3m"); err != nil {
		return err
	}
	say("Staging runs. Approving the promotion to prod")
	if err := ferry("workflow", "resume", "shop", "-n", "shop"); err != nil {
		return err
	}
	if err := ferry("up", "-f", app, "--wait", "--timeout", "3m"); err != nil {
		return err
	}
	say("Where everything is")
	if err := ferry("status", "shop", "-n", "shop", "--tree"); err != nil {
		return err
	}
	for _, c := range env.Managed {
		spoke, err := ferryscheme.NewClient(c.Config)
		if err != nil {
			return err
		}
		var list appsv1.DeploymentList
		if err := spoke.List(ctx, &list, client.InNamespace("shop")); err != nil {
			return err
		}
		fmt.Printf("\ncluster %s (read from the cluster itself):\n", c.Name)
		for _, d := range list.Items {
			c := d.Spec.Template.Spec.Containers[0]
			fmt.Printf("  Deployment shop/%s: %d replicas, image %s, memory %s\n", d.Name, *d.Spec.Replicas, c.Image, c.Resources.Requests.Memory())
		}
	}
	if keep {
		say("Kept running (KEEP=1). Try:\n    export KUBECONFIG=%s\n    %s status shop -n shop --tree\n    %s ui      # the web console, in your browser\n  Stop everything with: make demo-down\n  (Deployments turn ready only while a demo runs: nothing plays the kubelet now.)", kubeconfig, filepath.Join(bin, "ferry"), filepath.Join(bin, "ferry"))
		return nil
	}
	return nil
}

// waitAdmission waits until the admission webhook answers: a server-side dry run of an
// Application passes through it.
func waitAdmission(ctx context.Context, hub client.Client) error {
	probe := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Name: "admission-probe", Namespace: "shop"},
		Spec: v1beta1.ApplicationSpec{Components: []v1beta1.ApplicationComponent{{Name: "probe", Type: "worker",
			Properties: &runtime.RawExtension{Raw: []byte(`{"image": "busybox"}`)}}}}}
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if err = hub.Create(ctx, probe.DeepCopy(), client.DryRunAll); err == nil {
			return nil
		}
	}
	return fmt.Errorf("the admission webhook does not answer: %w", err)
}

func startController(bin, kubeconfig, envDir string, webhookPort int, detach bool) (*exec.Cmd, error) {
	logFile, err := os.Create(filepath.Join(envDir, "logs", "ferry-controller.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		"--resync-interval", "1m", "--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(webhookPort))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(envDir, "ferry-controller.pid")
	return cmd, os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"+bin+"\n"), 0o644)
}

// down stops a demo kept with KEEP=1: the controller (by the PID it recorded, checking it is
// still that program) and the environment.
func down() error {
	dir, err := demoDir()
	if err != nil {
		return err
	}
	envDir := filepath.Join(dir, "env")
	if data, err := os.ReadFile(filepath.Join(envDir, "ferry-controller.pid")); err == nil {
		lines := strings.Split(string(data), "\n")
		if pid, err := strconv.Atoi(lines[0]); err == nil && len(lines) > 1 {
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == lines[1] {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	}
	if err := testenv.StopDir(envDir); err != nil {
		return err
	}
	fmt.Println("demo stopped")
	return os.RemoveAll(envDir)
}
