package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/pkg/cue"
)

// Environment variables that make a program an evaluator process (see ServeIfWorker).
const (
	envWorker = "FERRY_CUE_SANDBOX"
	envMemory = "FERRY_CUE_SANDBOX_MEMORY"
)

// memoryExitCode is how an evaluator process says it passed its memory budget.
const memoryExitCode = 17

// DefaultMemory is an evaluator process's memory budget when Options.Budget.Memory is 0.
const DefaultMemory int64 = 192 << 20

// Options configure a Pool.
type Options struct {
	// Processes is how many evaluations run at the same time, each in its own process;
	// 0 means GOMAXPROCS, at most cue.DefaultMaxRuntimes.
	Processes int
	// Budget bounds each evaluation: past Timeout (0: cue.DefaultTimeout) its process is
	// killed; past Memory bytes of heap (0: DefaultMemory) it ends itself.
	Budget cue.Budget
	// Command starts an evaluator process; empty means this program (os.Executable), whose
	// main must call ServeIfWorker first.
	Command []string
	// MaxTemplates bounds each process's compiled templates (0: 2048).
	MaxTemplates int
}

// Pool runs evaluations in evaluator processes, started when first needed and replaced when
// one is killed. It implements cue.Sandbox and is safe for concurrent use.
type Pool struct {
	opts Options
	// slots bounds the evaluations running at once.
	slots chan struct{}

	mu sync.Mutex
	// closed says Close was called: processes end after their evaluation.
	closed bool
	live   map[*worker]bool
	// idle are started processes waiting for work, the most recently used last: a process
	// is reused while it is warm, and only concurrent evaluations start more.
	idle []*worker
}

// New returns a Pool; no process starts until the first evaluation.
func New(opts Options) *Pool {
	if opts.Processes <= 0 {
		// As many as the engine's runtimes: more than cores only adds switching.
		opts.Processes = min(runtime.GOMAXPROCS(0), cue.DefaultMaxRuntimes)
	}
	if opts.Budget.Memory == 0 {
		opts.Budget.Memory = DefaultMemory
	}
	if opts.MaxTemplates == 0 {
		opts.MaxTemplates = 2048
	}
	return &Pool{opts: opts, slots: make(chan struct{}, opts.Processes), live: map[*worker]bool{}}
}

// worker is one evaluator process and the templates it was sent.
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	buf    *bufio.Writer
	out    *bufio.Reader
	stderr *tail
	exited chan struct{}
	// known are the template keys this process was sent with their text.
	known map[string]bool
}

// Do performs a request in an evaluator process within the budget.
func (p *Pool) Do(req *cue.Request) (*cue.Response, error) {
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	var (
		w    *worker
		resp *cue.Response
		err  error
	)
	for attempt := 0; ; attempt++ {
		if w = p.takeIdle(); w == nil {
			if w, err = p.start(); err != nil {
				return nil, err
			}
		}
		resp, err = p.do(w, req)
		if err == nil {
			break
		}
		p.stop(w)
		var be *cue.BudgetError
		if errors.As(err, &be) {
			return nil, err
		}
		if attempt == 1 {
			if killedFromOutside(w) {
				// Twice ended by SIGKILL that the pool did not send: the kernel's OOM killer,
				// which picks evaluator processes first (see ServeIfWorker), when the
				// container's memory ran out during this evaluation.
				return nil, &cue.BudgetError{Kind: "memory", Limit: "the memory the container had left"}
			}
			return nil, err
		}
		// The process ended for another reason, e.g. killed from outside while idle. An
		// evaluation has no effect but its answer, so a new process may take it, once.
	}
	p.mu.Lock()
	keep := p.live[w] && !p.closed
	if keep {
		p.idle = append(p.idle, w)
	}
	p.mu.Unlock()
	if !keep {
		p.stop(w)
	}
	return resp, nil
}

// takeIdle returns the most recently used idle process, or nil.
func (p *Pool) takeIdle() *worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		w := p.idle[n-1]
		p.idle = p.idle[:n-1]
		select {
		case <-w.exited: // ended while idle
			delete(p.live, w)
		default:
			return w
		}
	}
	return nil
}

// do sends a request, naming the template by key alone when the process has it, and waits for
// the answer within the time budget.
func (p *Pool) do(w *worker, req *cue.Request) (*cue.Response, error) {
	short, shortened := *req, false
	strip := func(src cue.Source) cue.Source {
		if src.Key != "" && w.known[src.Key] {
			shortened = true
			return cue.Source{Name: src.Name, Key: src.Key}
		}
		return src
	}
	short.Source = strip(req.Source)
	if len(req.Chain) > 0 {
		short.Chain = make([]cue.WireStep, len(req.Chain))
		for i, s := range req.Chain {
			short.Chain[i] = cue.WireStep{Source: strip(s.Source), Parameter: s.Parameter}
		}
	}
	if shortened {
		resp, err := p.roundTrip(w, &short)
		if err != nil || !resp.NeedSource {
			return resp, err
		}
	}
	resp, err := p.roundTrip(w, req)
	if err == nil {
		for _, src := range append([]cue.Source{req.Source}, chainSources(req)...) {
			if src.Key != "" {
				w.known[src.Key] = true
			}
		}
	}
	return resp, err
}

func chainSources(req *cue.Request) []cue.Source {
	out := make([]cue.Source, 0, len(req.Chain))
	for _, s := range req.Chain {
		out = append(out, s.Source)
	}
	return out
}

type answer struct {
	resp *cue.Response
	err  error
}

func (p *Pool) roundTrip(w *worker, req *cue.Request) (*cue.Response, error) {
	done := make(chan answer, 1)
	go func() {
		if err := writeMessage(w.buf, req); err != nil {
			done <- answer{err: err}
			return
		}
		var resp cue.Response
		err := readMessage(w.out, &resp)
		done <- answer{resp: &resp, err: err}
	}()
	var expired <-chan time.Time
	if timeout := p.timeout(); timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case a := <-done:
		if a.err != nil {
			return nil, p.failure(w, a.err)
		}
		return a.resp, nil
	case <-expired:
		_ = w.cmd.Process.Kill()
		return nil, &cue.BudgetError{Kind: "time", Limit: p.timeout().String()}
	}
}

func (p *Pool) timeout() time.Duration {
	switch t := p.opts.Budget.Timeout; {
	case t == 0:
		return cue.DefaultTimeout
	case t < 0:
		return 0
	default:
		return t
	}
}

// failure explains why talking to a process failed: it passed its memory budget, or it ended
// for another reason, shown from the end of what it wrote to stderr.
func (p *Pool) failure(w *worker, err error) error {
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
	if w.cmd.ProcessState != nil && w.cmd.ProcessState.ExitCode() == memoryExitCode {
		return &cue.BudgetError{Kind: "memory", Limit: cue.FormatBytes(p.opts.Budget.Memory)}
	}
	state := "did not answer"
	if w.cmd.ProcessState != nil {
		state = w.cmd.ProcessState.String()
	}
	msg := fmt.Sprintf("the evaluator process ended (%s) while evaluating: %v", state, err)
	if last := w.stderr.cause(); last != "" {
		msg += ": " + last
	}
	return errors.New(msg)
}

// killedFromOutside reports a process ended by SIGKILL after it failed to answer (the pool
// kills only on the time budget, which is reported as such before).
func killedFromOutside(w *worker) bool {
	st := w.cmd.ProcessState
	if st == nil {
		return false
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// start starts an evaluator process.
func (p *Pool) start() (*worker, error) {
	if os.Getenv(envWorker) != "" {
		// This program was started as an evaluator but did not serve: its main does not
		// call ServeIfWorker. Starting more would start this program again and again.
		return nil, errors.New("the evaluator sandbox cannot start: this program was started as an evaluator process but does not serve as one (its main must call sandbox.ServeIfWorker first)")
	}
	command := p.opts.Command
	if len(command) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("the evaluator sandbox cannot start: %w", err)
		}
		command = []string{self}
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(os.Environ(), envWorker+"=1",
		envMemory+"="+strconv.FormatInt(p.opts.Budget.Memory, 10),
		envMaxTemplates+"="+strconv.Itoa(p.opts.MaxTemplates))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	w := &worker{cmd: cmd, stdin: stdin, stderr: &tail{}, exited: make(chan struct{}), known: map[string]bool{}}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("the evaluator sandbox cannot start %s: %w", command[0], err)
	}
	go func() {
		_ = cmd.Wait()
		close(w.exited)
	}()
	w.buf = bufio.NewWriterSize(stdin, 64<<10)
	w.out = bufio.NewReaderSize(stdout, 64<<10)
	p.mu.Lock()
	p.live[w] = true
	p.mu.Unlock()
	if err := p.awaitReady(w); err != nil {
		p.stop(w)
		return nil, err
	}
	return w, nil
}

// readyByte is what a new evaluator process writes once it serves.
const readyByte = 'R'

// startTimeout bounds how long a new evaluator process may take to say it is ready. Starting is
// not evaluating: it has a bound of its own, well above the evaluation budget, so that a busy
// machine does not turn a slow start into a template that "does not finish".
const startTimeout = 2 * time.Minute

// awaitReady waits for a new process's ready byte.
func (p *Pool) awaitReady(w *worker) error {
	ready := make(chan error, 1)
	go func() {
		b, err := w.out.ReadByte()
		if err == nil && b != readyByte {
			err = fmt.Errorf("it wrote %q instead of its ready byte", b)
		}
		ready <- err
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err != nil {
			return fmt.Errorf("the evaluator process did not start: %w", p.failure(w, err))
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("the evaluator process did not start within %s", startTimeout)
	}
}

// stop ends a process that failed or was killed.
func (p *Pool) stop(w *worker) {
	_ = w.stdin.Close()
	_ = w.cmd.Process.Kill()
	p.mu.Lock()
	delete(p.live, w)
	p.mu.Unlock()
}

// Close ends the idle evaluator processes, and from now on each process once its evaluation
// is done. Evaluations still running finish, and later ones still work, each in a process of
// its own: a controller that is stopping may have reconciles to finish.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, w := range idle {
		// An idle process ends when its input does.
		_ = w.stdin.Close()
		select {
		case <-w.exited:
		case <-time.After(2 * time.Second):
		}
		p.stop(w)
	}
}

// Processes is how many evaluator processes are running.
func (p *Pool) Processes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

// tail keeps the end of what a process writes to stderr.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 8 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailSize:]...)
	}
	return len(b), nil
}

// cause is the line that says why a Go program ended ("fatal error: ...", "panic: ..."), or
// the last line written.
func (t *tail) cause() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") {
			return l
		}
	}
	return lines[len(lines)-1]
}
