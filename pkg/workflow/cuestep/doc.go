// Package cuestep runs workflow step types written in CUE — WorkflowStepDefinitions — as
// workflow Executors.
//
// A step template imports the action library as `vela/op`, the import KubeVela users' step
// definitions already use, and declares actions as fields:
//
//	import "vela/op"
//
//	apply: op.#Apply & {value: parameter.object, cluster: parameter.cluster}
//	wait:  op.#ConditionalWait & {continue: apply.value.status.phase == "Ready"}
//
// The runner evaluates the template with `parameter` and `context`, then runs the actions in
// the order they are written, each as soon as its inputs are concrete, filling results back
// (apply.value becomes the live object) before the next. Control actions end the execution:
// #ConditionalWait with continue false waits, #Suspend suspends, #Fail fails, #Break succeeds.
//
// Actions with effects go through small provider interfaces the caller injects (Kube, HTTP,
// Mailer, Components); the package never imports a Kubernetes client. HTTP calls are limited to
// an allow-list of hosts with a per-call timeout, and sending actions are recorded in a Ledger
// under the step's execution id so that a repeated execution does not send twice. CUE itself
// has no file or process access here.
package cuestep
