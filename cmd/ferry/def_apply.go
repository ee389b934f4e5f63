package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/install"
)

type defApplyOptions struct {
	kube kubeFlags
}

func newDefApplyCmd(s streams) *cobra.Command {
	o := &defApplyOptions{}
	cmd := &cobra.Command{
		Use:   "apply FILE...",
		Short: "Check definition files (.cue or CR YAML) and install them on the cluster",
		Long: `Apply compiles each definition first, so a broken template is reported with its file:line and
nothing is installed. Definitions go to -n NAMESPACE, by default the system namespace
(` + install.DefaultNamespace + `), where every namespace sees them; one in an app's namespace wins there.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give at least one definition file")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDefApply(cmd.Context(), s, o, args, false)
		},
	}
	o.kube.bind(cmd)
	return cmd
}

func newDefDeleteCmd(s streams) *cobra.Command {
	o := &defApplyOptions{}
	cmd := &cobra.Command{
		Use:   "delete FILE...",
		Short: "Remove the definitions a file holds from the cluster",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give at least one definition file")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDefApply(cmd.Context(), s, o, args, true)
		},
	}
	o.kube.bind(cmd)
	return cmd
}

func runDefApply(ctx context.Context, s streams, o *defApplyOptions, files []string, remove bool) error {
	engine := newEngine(cue.ValidateStrict)
	var defs []*definition.Definition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		parsed, err := definition.Parse(f, data)
		if err != nil {
			return err
		}
		for _, d := range parsed {
			if !remove {
				if d.Unsupported != "" {
					return fmt.Errorf("%s: not applied: %s", d.DisplayName(), d.Unsupported)
				}
				if _, err := engine.Compile(d.Source()); err != nil {
					return fmt.Errorf("%s: %w", d.DisplayName(), err)
				}
			}
			defs = append(defs, d)
		}
	}
	c, _, err := o.kube.client()
	if err != nil {
		return err
	}
	ns := o.kube.namespace
	if ns == "" {
		ns = install.DefaultNamespace
	}
	for _, d := range defs {
		u, err := dispatch.ToUnstructured(d.CR())
		if err != nil {
			return err
		}
		u.SetNamespace(ns)
		if remove {
			if err := c.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s: %w", d.DisplayName(), err)
			}
			fmt.Fprintf(s.out, "%s deleted from %s\n", d.DisplayName(), ns)
			continue
		}
		if err := install.Apply(ctx, c, []*unstructured.Unstructured{u}); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "%s applied in %s\n", d.DisplayName(), ns)
	}
	return nil
}
