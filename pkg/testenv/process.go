package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one program the environment started.
type process struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// Binary is checked before a signal is sent, so a recycled PID is never killed.
	Binary string `json:"binary"`
	Log    string `json:"log"`

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
	// args, env and detach start the same program again (restart).
	args, env []string
	detach    bool
}

// startProcess starts a program in its own process group, logging to dir/logs/<name>.log.
// A detached process outlives this one; otherwise the kernel kills it if this process dies.
func startProcess(dir, name, binary string, args, env []string, detach bool) (*process, error) {
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{Name: name, PID: cmd.Process.Pid, Binary: binary, Log: logPath, cmd: cmd, exited: make(chan struct{}),
		args: args, env: env, detach: detach}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// failed returns an error with the end of the log if the process has exited.
func (p *process) failed() error {
	if p.exited == nil {
		return nil
	}
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited (%w); last lines of %s:\n%s", p.Name, p.err, p.Log, tail(p.Log, 20))
	default:
		return nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after the grace period, and waits.
func (p *process) stop(grace time.Duration) {
	if !p.ours() {
		return
	}
	_ = syscall.Kill(-p.PID, syscall.SIGTERM)
	if p.waitGone(grace) {
		return
	}
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	p.waitGone(5 * time.Second)
}

// ours reports whether the PID still runs the binary we started.
func (p *process) ours() bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	}
	exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p.PID), "exe"))
	if err != nil {
		return false
	}
	return strings.TrimSuffix(exe, " (deleted)") == p.Binary
}

func (p *process) waitGone(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.exited != nil {
			select {
			case <-p.exited:
				return true
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if err := syscall.Kill(p.PID, 0); errors.Is(err, syscall.ESRCH) || !p.ours() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
