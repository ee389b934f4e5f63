package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// state is what `hack/testenv down` needs to stop an environment another process started.
type state struct {
	Processes []*process `json:"processes"`
	// Created lists what Start created in the directory, removed by StopDir.
	Created []string `json:"created"`
}

func statePath(dir string) string { return filepath.Join(dir, "testenv-state.json") }

func (e *Env) saveState() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	created := []string{"etcd", "clusters", "logs", HubName + ".kubeconfig"}
	for _, c := range e.Managed {
		created = append(created, c.Name+".kubeconfig")
	}
	data, err := json.MarshalIndent(state{Processes: e.procs, Created: created}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(statePath(e.Dir), data, 0o644)
}

// StopDir stops an environment started with Detach in dir, and removes what it created there.
func StopDir(dir string) error {
	data, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no test environment in %s (no %s)", dir, filepath.Base(statePath(dir)))
	}
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("read %s: %w", statePath(dir), err)
	}
	for i := len(st.Processes) - 1; i >= 0; i-- {
		st.Processes[i].stop(5 * time.Second)
	}
	for _, p := range st.Processes {
		if p.ours() {
			return fmt.Errorf("%s (pid %d) did not stop", p.Name, p.PID)
		}
	}
	for _, name := range st.Created {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	if err := os.Remove(statePath(dir)); err != nil {
		return err
	}
	_ = os.Remove(dir) // only if empty
	return nil
}
