package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

type defGetOptions struct {
	definitions []string
	kind        string
	output      string
}

func newDefGetCmd(s streams) *cobra.Command {
	o := &defGetOptions{}
	cmd := &cobra.Command{
		Use:     "get NAME [-o yaml]",
		Short:   "Print a definition as the CR kubectl apply would take",
		Example: "  ferry def get webservice -o yaml | kubectl apply -f -",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runDefGet(s, o, args[0])
		},
	}
	cmd.Flags().StringArrayVarP(&o.definitions, "definitions", "d", nil, "folder or file of extra definitions (repeatable)")
	cmd.Flags().StringVarP(&o.kind, "type", "t", "", "kind of the definition when a name is used by several kinds")
	cmd.Flags().StringVarP(&o.output, "output", "o", "yaml", "output format: yaml")
	return cmd
}

func runDefGet(s streams, o *defGetOptions, name string) error {
	if o.output != "yaml" {
		return usageError{fmt.Errorf("unknown output format %q: use yaml", o.output)}
	}
	reg, err := loadDefinitions(o.definitions)
	if err != nil {
		return err
	}
	def, err := findDefinition(reg, o.kind, name)
	if err != nil {
		return err
	}
	data, err := yaml.Marshal(def.CR())
	if err != nil {
		return err
	}
	_, err = s.out.Write(data)
	return err
}
