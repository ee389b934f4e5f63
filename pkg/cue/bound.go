package cue

import (
	"fmt"
	"runtime/metrics"
	"sync"
	"time"
)

// Budget bounds one evaluation: a render, an expression, a status policy, a compile. CUE cannot
// interrupt an evaluation once it started, so how the bound is enforced depends on where the
// evaluation runs: in a Sandbox process it is killed; in this process the caller gets a
// *BudgetError at once and the evaluation is left to finish on its own runtime, which is then
// replaced. A long-lived process (the controller) uses a Sandbox; a one-shot process (the CLI)
// reports the error and exits.
type Budget struct {
	// Timeout bounds an evaluation's wall time; 0 means DefaultTimeout, negative no bound.
	Timeout time.Duration
	// Memory bounds the heap while evaluations run, in bytes: in this process the whole
	// heap, in a Sandbox process that process's heap. 0 means no bound.
	Memory int64
}

// DefaultTimeout is an evaluation's time budget when Budget.Timeout is 0. Renders of real
// definitions take milliseconds; seconds mean a template or expression that will not end.
const DefaultTimeout = 5 * time.Second

// timeout is the effective time bound; 0 when there is none.
func (b Budget) timeout() time.Duration {
	switch {
	case b.Timeout == 0:
		return DefaultTimeout
	case b.Timeout < 0:
		return 0
	}
	return b.Timeout
}

// BudgetError says an evaluation exceeded its budget. Kind is "time" or "memory".
type BudgetError struct {
	// What names the evaluation, e.g. `component definition "webservice"` or
	// `expression "..."`.
	What string
	Kind string
	// Limit is the bound exceeded, e.g. "5s" or "256MiB".
	Limit string
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%s: evaluation exceeded its %s budget (%s): the template or expression does not finish in bounds; look for comprehensions over large or nested lists, or recursion", e.What, e.Kind, e.Limit)
}

func (e *Engine) timeBudgetError(what string) *BudgetError {
	return &BudgetError{What: what, Kind: "time", Limit: e.opts.Budget.timeout().String()}
}

func (e *Engine) memoryBudgetError(what string) *BudgetError {
	return &BudgetError{What: what, Kind: "memory", Limit: FormatBytes(e.opts.Budget.Memory)}
}

// FormatBytes renders a byte count as KiB, MiB or GiB.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// panicked carries a panic out of an evaluation's goroutine to its caller, who panics again.
type panicked struct{ value any }

// bounded runs f on a runtime from the pool within the engine's budget. Without a bound f runs
// on the caller's goroutine. With one it runs on its own; when the budget is exceeded the
// caller returns a *BudgetError and the runtime stays with f, and the pool gets a new one in
// its place.
func (e *Engine) bounded(what string, f func(*runtime) error) error {
	rt := e.acquire()
	timeout := e.opts.Budget.timeout()
	if timeout <= 0 && e.opts.Budget.Memory <= 0 {
		defer e.release(rt)
		return f(rt)
	}
	done := make(chan any, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- panicked{r}
			}
		}()
		done <- f(rt)
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	overMemory := e.watchMemory()
	defer e.unwatchMemory()
	select {
	case r := <-done:
		e.release(rt)
		if p, ok := r.(panicked); ok {
			panic(p.value)
		}
		err, _ := r.(error)
		return err
	case <-expired:
		e.abandon()
		return e.timeBudgetError(what)
	case <-overMemory:
		e.abandon()
		return e.memoryBudgetError(what)
	}
}

// abandon gives the pool a new runtime in place of one an unfinished evaluation keeps.
func (e *Engine) abandon() {
	e.pool <- nil
}

// memoryWatch polls the heap while evaluations run in this process and closes over when it
// passes the budget.
type memoryWatch struct {
	mu       sync.Mutex
	inFlight int
	over     <-chan struct{}
	stop     chan struct{}
}

// memoryPollInterval is how often the heap is read while evaluations run.
const memoryPollInterval = 10 * time.Millisecond

// watchMemory registers an evaluation with the memory watch and returns the channel closed when
// the heap passes the budget; nil without a memory budget.
func (e *Engine) watchMemory() <-chan struct{} {
	limit := e.opts.Budget.Memory
	if limit <= 0 {
		return nil
	}
	w := &e.memory
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight++
	if w.inFlight == 1 {
		w.stop = make(chan struct{})
		w.over = WatchHeap(limit, w.stop)
	}
	return w.over
}

func (e *Engine) unwatchMemory() {
	if e.opts.Budget.Memory <= 0 {
		return
	}
	w := &e.memory
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	if w.inFlight == 0 {
		close(w.stop)
	}
}

// WatchHeap polls the heap until stop is closed, and closes the channel it returns once the
// heap's objects pass limit bytes.
func WatchHeap(limit int64, stop <-chan struct{}) <-chan struct{} {
	over := make(chan struct{})
	go func() {
		tick := time.NewTicker(memoryPollInterval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if HeapBytes() > limit {
					close(over)
					return
				}
			}
		}
	}()
	return over
}

// HeapBytes is the memory the Go heap's objects take, live or not yet collected.
func HeapBytes() int64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(sample[0].Value.Uint64())
}
