// Package sandbox evaluates CUE in separate processes so that a template or expression that
// does not end, or grows without bound, costs one killed process instead of a stalled or
// crashed controller.
//
// CUE cannot interrupt an evaluation once it started. A Pool (a cue.Sandbox) keeps a few
// evaluator processes, each a copy of this program started with ServeIfWorker, and sends each
// compile, render, step evaluation, expression and status policy to one of them over a pipe
// in a compact binary format that keeps Go types exactly. An evaluation past its time budget has its process killed; a process
// whose heap passes its memory budget ends itself. Either way the caller gets a
// *cue.BudgetError and the pool starts a new process for the next evaluation. Templates are
// sent once per process and named by content key afterwards.
package sandbox
