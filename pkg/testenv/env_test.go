package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// childReport is what the child test process tells its parent about the environment it runs.
type childReport struct {
	Dir  string `json:"dir"`
	PIDs []int  `json:"pids"`
}

// TestChildEnvironment is not a test on its own: TestNothingLeftBehind runs it in a child
// process, which starts an environment, reports it and waits to be signalled.
func TestChildEnvironment(t *testing.T) {
	if os.Getenv("FERRY_TESTENV_CHILD") != "1" {
		t.Skip("run by TestNothingLeftBehind")
	}
	env := StartForTest(t, ClusterSpec{Name: "c1"})
	report := childReport{Dir: env.Dir}
	for _, p := range env.procs {
		report.PIDs = append(report.PIDs, p.PID)
	}
	data, _ := json.Marshal(report)
	os.Stdout.Write(append(data, '\n'))
	time.Sleep(2 * time.Minute)
}

// TestNothingLeftBehind interrupts, then kills, a test process that runs an environment, and
// checks that no process it started survives and that its directory is removed.
func TestNothingLeftBehind(t *testing.T) {
	RequireBinaries(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildEnvironment$", "-test.v")
			cmd.Env = append(os.Environ(), "FERRY_TESTENV_CHILD=1", RequireEnv+"=1")
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			var report childReport
			scanner := bufio.NewScanner(out)
			for scanner.Scan() {
				if json.Unmarshal(scanner.Bytes(), &report) == nil && report.Dir != "" {
					break
				}
			}
			require.NotEmpty(t, report.PIDs, "the child started an environment")
			require.DirExists(t, report.Dir)

			require.NoError(t, cmd.Process.Signal(sig))
			_ = cmd.Wait()
			for _, pid := range report.PIDs {
				gone := false
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					if !running(pid) {
						gone = true
						break
					}
				}
				require.True(t, gone, "process %d outlived the test process (%s)", pid, sig)
			}
			if sig == syscall.SIGKILL {
				// A killed process cannot clean up: the next Start removes its directory.
				removeStaleTempDirs()
			}
			require.NoDirExists(t, report.Dir)
		})
	}
}

// running reports whether a process exists and is not a zombie waiting to be reaped.
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
