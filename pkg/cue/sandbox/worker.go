package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/ferryhq/ferry/pkg/cue"
)

const envMaxTemplates = "FERRY_CUE_SANDBOX_MAX_TEMPLATES"

// ServeIfWorker makes this process an evaluator when a Pool started it, and then exits; it
// returns at once otherwise. Call it first in main (and in TestMain of tests whose code starts
// a Pool on the test binary).
func ServeIfWorker() {
	if os.Getenv(envWorker) == "" {
		return
	}
	// When the container runs out of memory, the kernel ends this process rather than the
	// controller: an evaluation lost is reported and retried, a controller lost is a restart.
	// Raising one's own score needs no privilege; where it cannot be done, nothing changes.
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("1000"), 0)
	memory, _ := strconv.ParseInt(os.Getenv(envMemory), 10, 64)
	maxTemplates, _ := strconv.Atoi(os.Getenv(envMaxTemplates))
	if memory > 0 {
		// Collect harder as the heap nears the budget, so only a real excess ends the process.
		debug.SetMemoryLimit(memory * 3 / 4)
	}
	// Say it is ready: the pool's time budget covers evaluations, not starting a process,
	// which a busy machine can make slow.
	if _, err := os.Stdout.Write([]byte{readyByte}); err != nil {
		os.Exit(1)
	}
	err := Serve(os.Stdin, os.Stdout, ServeOptions{MaxTemplates: maxTemplates, Memory: memory})
	if err != nil {
		fmt.Fprintf(os.Stderr, "evaluator: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// exitPastBudget ends the process when the heap passes its budget while an evaluation runs
// (it cannot be stopped otherwise), until stop is closed. An idle process does not poll.
func exitPastBudget(limit int64, stop <-chan struct{}) {
	select {
	case <-cue.WatchHeap(limit, stop):
		fmt.Fprintf(os.Stderr, "evaluator: heap past its budget of %s\n", cue.FormatBytes(limit))
		os.Exit(memoryExitCode)
	case <-stop:
	}
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// MaxTemplates bounds the compiled templates kept (0: no bound).
	MaxTemplates int
	// Memory, when positive, ends the process with memoryExitCode when its heap passes
	// this many bytes during an evaluation.
	Memory int64
}

// Serve answers requests read from r on w until r ends: the evaluator's side of a Pool.
func Serve(r io.Reader, w io.Writer, opts ServeOptions) error {
	maxTemplates := opts.MaxTemplates
	var mu sync.Mutex
	engines := map[cue.Validation]*cue.Engine{}
	engine := func(v cue.Validation) *cue.Engine {
		mu.Lock()
		defer mu.Unlock()
		if e, ok := engines[v]; ok {
			return e
		}
		// One evaluation at a time, no time budget (the pool kills this process) and no
		// memo (the pool's side keeps one).
		e := cue.NewEngine(cue.Options{Runtimes: 1, MaxResults: -1, MaxTemplates: maxTemplates,
			Budget: cue.Budget{Timeout: -1}, Validation: v})
		engines[v] = e
		return e
	}
	in := bufio.NewReaderSize(r, 64<<10)
	out := bufio.NewWriterSize(w, 64<<10)
	for {
		var req cue.Request
		if err := readMessage(in, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		var stop chan struct{}
		if opts.Memory > 0 {
			stop = make(chan struct{})
			go exitPastBudget(opts.Memory, stop)
		}
		resp := cue.Serve(engine, &req)
		if stop != nil {
			close(stop)
		}
		if err := writeMessage(out, resp); err != nil {
			return fmt.Errorf("write answer: %w", err)
		}
	}
}
