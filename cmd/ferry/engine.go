package main

import "github.com/ferryhq/ferry/pkg/cue"

// cliMemoryBudget bounds the heap while the CLI evaluates CUE. A dry-run of hundreds of
// components stays well below it; a template that grows without bound reaches it in seconds.
const cliMemoryBudget = 1 << 30

// newEngine is the engine every CLI command evaluates with. It evaluates in this process
// within the same time budget as the controller's evaluator processes (cue.DefaultTimeout),
// plus a memory budget for the whole heap: past either the command fails with the
// *cue.BudgetError naming what was evaluated, and exits, which ends the evaluation.
func newEngine(v cue.Validation) *cue.Engine {
	return cue.NewEngine(cue.Options{Validation: v, Budget: cue.Budget{Memory: cliMemoryBudget}})
}
