package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/install"
)

func newAddonVetCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "vet DIR...",
		Short: "Check addons offline: metadata, semver, CUE, definitions, and that the template renders and plans",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give at least one addon directory")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runAddonVet(cmd, s, args) },
	}
}

func runAddonVet(cmd *cobra.Command, s streams, dirs []string) error {
	engine := newEngine(cue.ValidateStrict)
	var failed []error
	for _, dir := range dirs {
		a, err := addon.Load(os.DirFS(dir), dir)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		res, err := addon.Vet(cmd.Context(), a, addon.VetOptions{Engine: engine, Namespace: install.DefaultNamespace})
		if res != nil {
			for _, w := range res.Warnings {
				fmt.Fprintf(s.err, "Warning: %s\n", w)
			}
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", a.Ref(), err))
			continue
		}
		fmt.Fprintf(s.out, "%s: ok (%d definitions, %d components)\n", a.Ref(), len(a.Definitions), res.Components)
	}
	return errors.Join(failed...)
}
