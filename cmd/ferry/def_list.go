package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/definition"
)

type defListOptions struct {
	definitions []string
	kind        string
}

func newDefListCmd(s streams) *cobra.Command {
	o := &defListOptions{}
	cmd := &cobra.Command{
		Use:   "list [--type component|trait|policy|workflow-step] [-d defs-dir ...]",
		Short: "List the definitions by kind",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			return runDefList(s, o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.definitions, "definitions", "d", nil, "folder or file of extra definitions; they override built-ins (repeatable)")
	cmd.Flags().StringVarP(&o.kind, "type", "t", "", "only this kind: component, trait, policy or workflow-step")
	return cmd
}

func runDefList(s streams, o *defListOptions) error {
	kinds := definition.Kinds
	if o.kind != "" {
		k, err := definition.ParseKind(o.kind)
		if err != nil {
			return usageError{err}
		}
		kinds = []definition.Kind{k}
	}
	reg, err := loadDefinitions(o.definitions)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAME\tSOURCE\tDESCRIPTION")
	for _, k := range kinds {
		for _, d := range reg.List(k) {
			source := "built-in"
			if !d.Builtin {
				source = d.Filename
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k, d.Name, source, strings.TrimSpace(d.Description))
		}
	}
	return w.Flush()
}
