package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

type defShowOptions struct {
	definitions []string
	kind        string
}

func newDefShowCmd(s streams) *cobra.Command {
	o := &defShowOptions{}
	cmd := &cobra.Command{
		Use:     "show NAME [--type component|trait|policy|workflow-step] [-d defs-dir ...]",
		Short:   "Show a definition and its parameters",
		Example: "  ferry def show webservice\n  ferry def show scaler",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runDefShow(s, o, args[0])
		},
	}
	cmd.Flags().StringArrayVarP(&o.definitions, "definitions", "d", nil, "folder or file of extra definitions; they override built-ins (repeatable)")
	cmd.Flags().StringVarP(&o.kind, "type", "t", "", "kind of the definition when a name is used by several kinds")
	return cmd
}

func runDefShow(s streams, o *defShowOptions, name string) error {
	reg, err := loadDefinitions(o.definitions)
	if err != nil {
		return err
	}
	def, err := findDefinition(reg, o.kind, name)
	if err != nil {
		return err
	}
	tmpl, err := newEngine(cue.ValidateStrict).Compile(def.Source())
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s\n", def.Name)
	fmt.Fprintf(w, "Type:\t%s\n", def.Kind)
	fmt.Fprintf(w, "Description:\t%s\n", strings.TrimSpace(def.Description))
	if def.Workload.Kind != "" {
		fmt.Fprintf(w, "Workload:\t%s %s\n", def.Workload.APIVersion, def.Workload.Kind)
	}
	if len(def.AppliesToWorkloads) > 0 {
		fmt.Fprintf(w, "Applies to:\t%s\n", strings.Join(def.AppliesToWorkloads, ", "))
	}
	if len(def.ConflictsWith) > 0 {
		fmt.Fprintf(w, "Conflicts with:\t%s\n", strings.Join(def.ConflictsWith, ", "))
	}
	if def.Kind == definition.KindTrait {
		fmt.Fprintf(w, "Restarts pods:\t%t\n", def.PodDisruptive)
	}
	if def.Status.HealthPolicy != "" {
		fmt.Fprintf(w, "Health:\t%s\n", "checked by its healthPolicy")
	}
	source := "built-in"
	if !def.Builtin {
		source = def.Filename
	}
	fmt.Fprintf(w, "Source:\t%s\n", source)
	if err := w.Flush(); err != nil {
		return err
	}

	params := tmpl.Parameters()
	fmt.Fprintln(s.out)
	if len(params) == 0 {
		_, err := fmt.Fprintln(s.out, "Parameters: none")
		return err
	}
	fmt.Fprintln(s.out, "Parameters:")
	w = tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tTYPE\tDEFAULT\tREQUIRED\tDESCRIPTION")
	for _, p := range params {
		required := "no"
		if p.Required {
			required = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Type, orDash(p.Default), required, p.Description)
	}
	return w.Flush()
}

// findDefinition resolves a name in one kind, or in any kind when none is given.
func findDefinition(reg *definition.Registry, kind, name string) (*definition.Definition, error) {
	if kind != "" {
		k, err := definition.ParseKind(kind)
		if err != nil {
			return nil, usageError{err}
		}
		return reg.Get(k, name)
	}
	if d, ok := reg.Lookup(name); ok {
		return d, nil
	}
	var known []string
	for _, k := range definition.Kinds {
		for _, d := range reg.List(k) {
			known = append(known, d.Name)
		}
	}
	return nil, &definition.NotFoundError{Kind: "definition", Name: name, Known: known}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
