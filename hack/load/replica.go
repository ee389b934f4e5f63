package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferryhq/ferry/pkg/install"
)

// replica is one ferry-controller process.
type replica struct {
	name    string
	shard   string
	cmd     *exec.Cmd
	pid     int
	metrics string
	cgroup  string
	log     string
}

// shippedMemoryLimit is resources.limits.memory of the controller Deployment that ferry install
// applies: what the kubelet would give the controller's cgroup.
func shippedMemoryLimit() (int64, error) {
	objs, err := install.Objects(install.Options{Controller: true})
	if err != nil {
		return 0, err
	}
	for _, obj := range objs {
		if obj.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			limit, found, _ := unstructured.NestedString(c.(map[string]any), "resources", "limits", "memory")
			if found {
				q, err := resource.ParseQuantity(limit)
				if err != nil {
					return 0, fmt.Errorf("the Deployment's memory limit %q: %w", limit, err)
				}
				return q.Value(), nil
			}
		}
	}
	return 0, fmt.Errorf("the controller Deployment sets no memory limit")
}

// makeCgroup creates a memory cgroup with a limit below this process's own cgroup, as the
// kubelet does for a container: cgroup v1 (memory controller) or v2. It returns the directory.
func makeCgroup(name string, limit int64) (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	var v1, v2 string
	v2found := false
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, v2found = parts[2], true
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1 = parts[2]
			}
		}
	}
	var dir, file string
	switch {
	case v1 != "":
		dir, file = filepath.Join("/sys/fs/cgroup/memory", v1, name), "memory.limit_in_bytes"
	case v2found:
		dir, file = filepath.Join("/sys/fs/cgroup", v2, name), "memory.max"
	default:
		return "", fmt.Errorf("no memory cgroup found")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		_ = os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// startReplica starts a controller with the shipped defaults: only the flags the measurement
// needs (where the API server is, metrics and pprof on a free port) and the ones given.
func startReplica(o options, i int, ctlBin, kubeconfig, work string, memLimit int64) (*replica, error) {
	r := &replica{name: fmt.Sprintf("replica-%d", i), log: filepath.Join(work, fmt.Sprintf("controller-%d.log", i))}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r.metrics = addr
	// The load hub has no admission webhook (CRDs only), so no app has a recorded identity: the
	// controller runs single-tenant, as `ferry install --no-controller` says to run it, unless
	// -impersonate records one on every app.
	args := []string{"--kubeconfig", kubeconfig, "--metrics-bind-address", addr, "--health-probe-bind-address", "0", "--enable-pprof",
		"--impersonate=" + strconv.FormatBool(o.impersonate)}
	if o.concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(o.concurrency))
	}
	if o.resync > 0 {
		args = append(args, "--resync-interval", o.resync.String())
	}
	if o.qps > 0 {
		args = append(args, "--kube-api-qps", strconv.Itoa(o.qps), "--kube-api-burst", strconv.Itoa(2*o.qps))
	}
	if o.replicas > 1 {
		r.shard = fmt.Sprintf("shard-%d", i)
		args = append(args, "--shards", strconv.Itoa(o.replicas), "--shard-id", strconv.Itoa(i))
	}
	name, argv := ctlBin, args
	if memLimit > 0 {
		dir, err := makeCgroup(fmt.Sprintf("ferry-load-%d-%d", os.Getpid(), i), memLimit)
		if err != nil {
			return nil, fmt.Errorf("memory cgroup for the controller (run as root, or pass --cgroup-memory=0): %w", err)
		}
		r.cgroup = dir
		// Join the cgroup before exec, as a container's process does.
		name, argv = "/bin/sh", append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, dir, ctlBin}, args...)
	}
	logFile, err := os.Create(r.log)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(name, argv...)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if o.memLimit != "" {
		r.cmd.Env = append(os.Environ(), "GOMEMLIMIT="+o.memLimit)
	}
	if err := r.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	_ = logFile.Close()
	r.pid = r.cmd.Process.Pid
	return r, nil
}

// stop ends the replica (SIGTERM) and removes its cgroup.
func (r *replica) stop() {
	if r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
	}
	if r.cgroup != "" {
		_ = os.Remove(r.cgroup)
	}
}

// kill ends the replica as a crash or a lost node would: no cleanup, its lease left to expire.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// memoryLine is what the controller logged about its Go memory limit.
func (r *replica) memoryLine() string {
	data, err := os.ReadFile(r.log)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		i := strings.Index(line, "no memory limit")
		if i < 0 {
			i = strings.Index(line, "memory limit")
		}
		if i >= 0 {
			msg, _, _ := strings.Cut(line[i:], `"`) // the end of the JSON log message
			return strings.TrimSpace(msg)
		}
	}
	return ""
}

// resetPeak starts a new peak-RSS measurement of a process (Linux clear_refs).
func resetPeak(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o200)
}

// childPID finds the direct child process of this one with the given command name, e.g. the
// kube-apiserver envtest started.
func childPID(comm string) int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < 0 || s[open+1:end] != comm {
			continue
		}
		fields := strings.Fields(s[end+2:])
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self {
			return pid
		}
	}
	return 0
}
