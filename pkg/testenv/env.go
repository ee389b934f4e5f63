package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
)

// ClusterSpec is a managed cluster to start.
type ClusterSpec struct {
	Name   string
	Labels map[string]string
}

// Options configure Start.
type Options struct {
	// Dir holds state, logs and kubeconfigs. When empty a temporary directory is used and removed
	// by Stop.
	Dir string
	// Clusters are the managed clusters; none starts only the hub.
	Clusters []ClusterSpec
	// Binaries to run; see EnsureBinaries.
	Binaries *Binaries
	// Log receives progress; nothing is printed when nil.
	Log io.Writer
	// Detach lets the processes outlive this one (for `hack/testenv up`); Stop is then done by
	// StopDir from another process.
	Detach bool
	// StatusSyncInterval is how often work agents report status back; 1s when zero.
	StatusSyncInterval time.Duration
	// Placement runs OCM's placement controller on the hub, with every managed cluster in the
	// ManagedClusterSet "default" (ClusterSetDefault). A Placement's namespace still needs a
	// ManagedClusterSetBinding, as on a real hub.
	Placement bool
}

// Cluster is a running cluster.
type Cluster struct {
	Name   string
	Labels map[string]string
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	// Config is the same as a rest.Config.
	Config *rest.Config
}

// Env is a running environment.
type Env struct {
	Dir     string
	Hub     *Cluster
	Managed []*Cluster

	opts     Options
	ownDir   bool
	etcd     string
	mu       sync.Mutex
	procs    []*process
	stopOnce sync.Once
	signals  chan os.Signal
}

// Temporary directories are named ferry-testenv-* and hold the PID of their owner, so that a
// later Start can remove those whose owner died without cleaning up (e.g. a test timeout).
const (
	tempPrefix = "ferry-testenv-"
	ownerFile  = "owner.pid"
)

func removeStaleTempDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

// stopOnSignal stops the environment when this process is interrupted, then lets the signal
// take its default course. (If the process is killed outright, the kernel kills the children:
// see startProcess.)
func (e *Env) stopOnSignal() {
	e.signals = make(chan os.Signal, 1)
	signal.Notify(e.signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig, ok := <-e.signals
		if !ok {
			return
		}
		e.Stop()
		if s, isSyscall := sig.(syscall.Signal); isSyscall {
			_ = syscall.Kill(os.Getpid(), s)
		}
	}()
}

// HubName is the hub cluster's name in kubeconfig file names.
const HubName = "hub"

// Start brings up etcd, the hub and the managed clusters with their work agents, and returns
// once a ManifestWork sent to every managed cluster has been applied. On error everything
// started so far is stopped.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	if opts.Binaries == nil {
		return nil, errors.New("testenv: no binaries; call EnsureBinaries first")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.StatusSyncInterval == 0 {
		opts.StatusSyncInterval = time.Second
	}
	if err := validateClusters(opts.Clusters); err != nil {
		return nil, err
	}
	env = &Env{opts: opts, Dir: opts.Dir}
	if env.Dir == "" {
		removeStaleTempDirs()
		env.Dir, err = os.MkdirTemp("", tempPrefix)
		if err != nil {
			return nil, err
		}
		env.ownDir = true
		if err := os.WriteFile(filepath.Join(env.Dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(env.Dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(statePath(env.Dir)); err == nil {
		return nil, fmt.Errorf("testenv: %s already holds a running environment; stop it with `go run ./hack/testenv down --dir %s`", env.Dir, env.Dir)
	}
	defer func() {
		if err != nil {
			env.Stop()
			env = nil
		}
	}()
	if !opts.Detach {
		env.stopOnSignal()
	}
	started := time.Now()
	if err := env.startEtcd(ctx); err != nil {
		return env, err
	}
	specs := append([]ClusterSpec{{Name: HubName}}, opts.Clusters...)
	clusters := make([]*Cluster, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = env.startAPIServer(ctx, spec)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return env, err
	}
	env.Hub, env.Managed = clusters[0], clusters[1:]
	fmt.Fprintf(opts.Log, "testenv: etcd and %d apiservers ready in %s\n", len(clusters), time.Since(started).Round(10*time.Millisecond))
	if err := env.setUpOCM(ctx); err != nil {
		return env, err
	}
	if err := env.saveState(); err != nil {
		return env, err
	}
	fmt.Fprintf(opts.Log, "testenv: ready in %s\n", time.Since(started).Round(10*time.Millisecond))
	return env, nil
}

func validateClusters(specs []ClusterSpec) error {
	seen := map[string]bool{HubName: true}
	for _, c := range specs {
		if len(validation.IsDNS1123Label(c.Name)) > 0 {
			return fmt.Errorf("testenv: cluster name %q must be a DNS label", c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("testenv: cluster name %q is used twice (or is the hub's name)", c.Name)
		}
		seen[c.Name] = true
	}
	return nil
}

// Cluster returns a managed cluster by name.
func (e *Env) Cluster(name string) (*Cluster, bool) {
	for _, c := range e.Managed {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

func (e *Env) track(p *process) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.procs = append(e.procs, p)
}

// Stop stops every process in reverse start order and removes the directory if Start created
// it. It is safe to call more than once.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		if e.signals != nil {
			signal.Stop(e.signals)
			close(e.signals)
		}
	})
	e.mu.Lock()
	procs := e.procs
	e.procs = nil
	e.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(5 * time.Second)
	}
	_ = os.Remove(statePath(e.Dir))
	if e.ownDir {
		_ = os.RemoveAll(e.Dir)
	}
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wait polls check until it returns true, an error, or the timeout passes.
func wait(ctx context.Context, timeout time.Duration, what string, check func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		done, err := check()
		if done && err == nil {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("testenv: %s: timed out after %s: %w", what, timeout, last)
			}
			return fmt.Errorf("testenv: %s: timed out after %s", what, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func dirOf(base string, parts ...string) (string, error) {
	d := filepath.Join(append([]string{base}, parts...)...)
	return d, os.MkdirAll(d, 0o755)
}

// StopAgent stops a managed cluster's work agent, as if the cluster lost its connection to the
// hub; StartAgent starts it again.
func (e *Env) StopAgent(cluster string) error {
	e.mu.Lock()
	var agent *process
	rest := e.procs[:0]
	for _, p := range e.procs {
		if p.Name == "work-agent-"+cluster && agent == nil {
			agent = p
			continue
		}
		rest = append(rest, p)
	}
	e.procs = rest
	e.mu.Unlock()
	if agent == nil {
		return fmt.Errorf("cluster %q has no running work agent", cluster)
	}
	agent.stop(5 * time.Second)
	return nil
}

// StartAgent starts a managed cluster's work agent again after StopAgent.
func (e *Env) StartAgent(cluster string) error {
	c, ok := e.Cluster(cluster)
	if !ok {
		return fmt.Errorf("no managed cluster %q", cluster)
	}
	return e.startAgent(c)
}
