// Package appworkflow is the workflow engine's state as an Application keeps it: the mapping
// between workflow.State and Application.status.workflow, and the operators' commands on a
// running workflow (suspend, resume, terminate, restart) and rollback, written to the
// Application for the controller to pick up. The controller and `ferry workflow` share it.
package appworkflow
