package main

import (
	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
)

// validateFlag is --validate: what a parameter the definition does not declare, or a field the
// Application's schema does not have, is. The CLI is strict by default and suggests the name
// meant; warn prints a warning and goes on without it; ignore says nothing, as KubeVela does. The
// controller and its admission webhook warn (and the API server prunes unknown fields).
type validateFlag struct{ value string }

func (v *validateFlag) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&v.value, "validate", string(cue.ValidateStrict),
		"unknown parameters and fields: strict (an error), warn (a warning; rendered without them) or ignore")
}

// level is the validation asked for; strict when the value is not one (plannerOptions says so).
func (v *validateFlag) level() cue.Validation {
	mode, err := cue.ParseValidation(v.value)
	if err != nil {
		return cue.ValidateStrict
	}
	return mode
}

// plannerOptions returns planner options with an engine that validates as asked.
func (v *validateFlag) plannerOptions() (appfile.Options, error) {
	mode, err := cue.ParseValidation(v.value)
	if err != nil {
		return appfile.Options{}, usageError{err}
	}
	return appfile.Options{Engine: newEngine(mode)}, nil
}
