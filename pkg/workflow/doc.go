// Package workflow is Ferry's step engine.
//
// A workflow is a list of steps — each with a type, properties, an optional `if` condition,
// timeout, dependsOn, inputs, outputs and retries — run step by step or as a DAG, where a
// step-group runs its sub-steps with their own mode. Execution is a pure tick:
//
//	next, requeue, err := Run(ctx, spec, state, env)
//
// reads the state the caller persisted, does what can be done now, and returns the new state and
// when to call again. All state — phases, times, attempts, execution ids, outputs — is in State,
// which the caller stores (the controller keeps it in the Application status). A new process can
// therefore continue from any persisted state: finished steps are never run again, and a step
// whose result was not persisted runs again with the same execution id, so actions with side
// effects (notifications) can make themselves idempotent.
//
// Every wait is bounded: a step that keeps waiting fails with reason Timeout after its timeout
// (Options.DefaultTimeout when it has none), so a workflow always ends succeeded, failed or
// terminated. The engine calls step types through Executors and never talks to a cluster itself.
package workflow
