package sandbox

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

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
		go watchHeap(memory)
	}
	err := Serve(os.Stdin, os.Stdout, maxTemplates)
	if err != nil {
		fmt.Fprintf(os.Stderr, "evaluator: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// watchHeap ends the process when its heap passes the budget: the evaluation running cannot
// be stopped otherwise.
func watchHeap(limit int64) {
	for range time.Tick(10 * time.Millisecond) {
		if cue.HeapBytes() > limit {
			fmt.Fprintf(os.Stderr, "evaluator: heap past its budget of %s\n", cue.FormatBytes(limit))
			os.Exit(memoryExitCode)
		}
	}
}

// Serve answers requests read from r on w until r ends: the evaluator's side of a Pool.
func Serve(r io.Reader, w io.Writer, maxTemplates int) error {
	cue.RegisterWireTypes()
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
	dec := gob.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	buf := bufio.NewWriterSize(w, 64<<10)
	enc := gob.NewEncoder(buf)
	for {
		var req cue.Request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		resp := cue.Serve(engine, &req)
		if err := enc.Encode(resp); err != nil {
			return fmt.Errorf("write answer: %w", err)
		}
		if err := buf.Flush(); err != nil {
			return fmt.Errorf("write answer: %w", err)
		}
	}
}
