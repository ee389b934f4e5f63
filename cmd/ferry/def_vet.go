package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

func newDefVetCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "vet FILE...",
		Short: "Check definition files and report every error with file:line:column",
		Long: `Check definition files (.cue or CR YAML) offline: syntax, references that do not resolve,
conflicts between constants, a missing parameter block, and outputs that cannot be Kubernetes
objects. Every problem of every file is reported; the exit code is 1 when there is any.`,
		Example: "  ferry def vet definitions/*.cue",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give at least one definition file")}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return runDefVet(s, args)
		},
	}
}

func runDefVet(s streams, files []string) error {
	engine := newEngine(cue.ValidateStrict)
	var problems []string
	for _, file := range files {
		problems = append(problems, vetFile(s, engine, file)...)
	}
	switch len(problems) {
	case 0:
	case 1:
		return fmt.Errorf("%s", problems[0])
	default:
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(s.out, "ok: %d definition files\n", len(files))
	return nil
}

// vetFile returns every problem of one file.
func vetFile(s streams, engine *cue.Engine, file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	defs, err := definition.Parse(file, data)
	if err != nil {
		return strings.Split(err.Error(), "; ")
	}
	var problems []string
	for _, d := range defs {
		for _, w := range d.Warnings() {
			fmt.Fprintf(s.err, "Warning: %s (%s)\n", w, d.DisplayName())
		}
		if d.Unsupported != "" {
			fmt.Fprintf(s.err, "Warning: %s:%d: %s loads, but an Application using it is refused: %s\n", d.Filename, d.Line, d.DisplayName(), d.Unsupported)
			continue
		}
		tmpl, err := engine.Compile(d.Source())
		if err != nil {
			var terr *cue.TemplateError
			if errors.As(err, &terr) {
				for _, detail := range terr.Details {
					problems = append(problems, fmt.Sprintf("%s (%s)", detail, d.DisplayName()))
				}
				continue
			}
			problems = append(problems, err.Error())
			continue
		}
		if !tmpl.HasParameter() {
			problems = append(problems, fmt.Sprintf("%s:%d: %s: the template has no `parameter` block; declare one, even `parameter: {}`", d.Filename, d.Line, d.DisplayName()))
		}
		for _, p := range tmpl.ReferenceProblems() {
			problems = append(problems, fmt.Sprintf("%s (%s)", p, d.DisplayName()))
		}
		for _, p := range tmpl.ObjectProblems() {
			problems = append(problems, fmt.Sprintf("%s (%s)", p, d.DisplayName()))
		}
	}
	return problems
}
