package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/install"
)

type addonEnableOptions struct {
	kube            kubeFlags
	valueFiles      []string
	clusters        []string
	clusterSelector string
	version         string
	dryRun          bool
	output          string
	mirror          string
	wait            bool
	timeout         time.Duration
}

func (o *addonEnableOptions) bind(cmd *cobra.Command, upgrade bool) {
	o.kube.bind(cmd)
	cmd.Flags().StringArrayVarP(&o.valueFiles, "values", "f", nil, "YAML file of parameters (repeatable; KEY=VALUE arguments win)")
	cmd.Flags().StringSliceVar(&o.clusters, "clusters", nil, "managed clusters to install on (addons that deploy to runtime clusters; default: all)")
	cmd.Flags().StringVar(&o.clusterSelector, "cluster-selector", "", "install on the managed clusters with these labels: k=v[,k=v]")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "resolve, fetch, render and check everything, and apply nothing")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "with --dry-run: yaml prints every object enable would apply (for GitOps)")
	cmd.Flags().StringVar(&o.mirror, "mirror", "", "offline copy of upstream artifacts (HOST/PATH of each URL); nothing is downloaded")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait until every addon involved is enabled (or failed)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long --wait waits")
	if upgrade {
		cmd.Flags().StringVar(&o.version, "version", "", "version or semver constraint to upgrade to (default: the newest)")
	}
}

func newAddonEnableCmd(s streams) *cobra.Command {
	o := &addonEnableOptions{}
	cmd := &cobra.Command{
		Use:   "enable NAME[@VERSION] [KEY=VALUE...]",
		Short: "Enable an addon and, first, the addons it depends on, on the same clusters",
		Long: `Enable resolves NAME's dependencies across the registries (the newest versions that satisfy
every constraint), fetches and verifies upstream artifacts, validates parameters against
parameter.cue, renders each addon and plans its Application on the hub. Only when all of that
succeeds does it apply, dependencies first: definitions, the Application addon-NAME, and the
record Secret addon-NAME-record, all in ` + install.DefaultNamespace + `. Enabling an enabled addon again
updates its parameters and clusters.`,
		Example: `  ferry addon enable uptime replicas=2 --clusters edge-1,edge-2
  ferry addon enable fluxcd@2.7.3 -f values.yaml --cluster-selector region=eu
  ferry addon enable fluxcd --dry-run -o yaml > fluxcd.yaml   # for GitOps`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give the addon: NAME[@VERSION]")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ver := parseAddonRef(args[0])
			return runAddonEnable(cmd.Context(), s, o, name, ver, args[1:], false)
		},
	}
	o.bind(cmd, false)
	return cmd
}

func runAddonEnable(ctx context.Context, s streams, o *addonEnableOptions, name, ver string, kv []string, upgrade bool) error {
	if o.output != "" && (!o.dryRun || (o.output != "yaml" && o.output != "json")) {
		return usageError{errors.New("-o yaml|json goes with --dry-run")}
	}
	if len(o.clusters) > 0 && o.clusterSelector != "" {
		return usageError{errors.New("give --clusters or --cluster-selector, not both")}
	}
	params, err := parseParameters(o.valueFiles, kv)
	if err != nil {
		return err
	}
	selector, err := parseSelector(o.clusterSelector)
	if err != nil {
		return err
	}
	m, _, err := o.kube.addonManager(ctx, addon.ArtifactOptions{Mirror: o.mirror})
	if err != nil {
		return err
	}
	plan, err := m.PlanEnable(ctx, addon.EnableRequest{Name: name, Version: ver, Parameters: params,
		Clusters: o.clusters, ClusterSelector: selector, Upgrade: upgrade})
	if err != nil {
		return err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(s.err, "Warning: %s\n", w)
	}
	if o.dryRun {
		return printEnablePlan(s, plan, o.output)
	}
	err = m.Apply(ctx, plan, func(st addon.Step) {
		fmt.Fprintf(s.out, "%s\n", describeStep(st))
	})
	if err != nil {
		return err
	}
	if !o.wait {
		return nil
	}
	return waitAddons(ctx, s, m, plan, o.timeout)
}

func describeStep(st addon.Step) string {
	verb := map[string]string{addon.ActionInstall: "enabled", addon.ActionUpgrade: "upgraded", addon.ActionUpdate: "updated",
		addon.ActionUnchanged: "unchanged"}[st.Action]
	line := fmt.Sprintf("addon %s %s", st.Addon.Ref(), verb)
	if st.Action == addon.ActionUpgrade {
		line = fmt.Sprintf("addon %s upgraded from %s", st.Addon.Ref(), st.Previous.Version)
	}
	switch {
	case len(st.Record.Clusters) > 0:
		line += " on clusters " + strings.Join(st.Record.Clusters, ", ")
	case st.Record.ClusterSelector != nil:
		line += " on clusters matching " + formatSelector(st.Record.ClusterSelector)
	case st.Addon.Metadata.DeployTo.RuntimeCluster:
		line += " on every cluster"
	default:
		line += " on the hub"
	}
	if st.Record.AsDependency {
		line += " (a dependency)"
	}
	return line
}

func formatSelector(sel map[string]string) string {
	var parts []string
	for k, v := range sel {
		parts = append(parts, k+"="+v)
	}
	return joinSorted(parts)
}

func printEnablePlan(s streams, plan *addon.EnablePlan, output string) error {
	if output == "" {
		for _, st := range plan.Steps {
			fmt.Fprintf(s.out, "would: %s\n", describeStep(st))
		}
		return nil
	}
	objs, err := plan.Objects(install.DefaultNamespace)
	if err != nil {
		return err
	}
	for i, obj := range objs {
		if output == "json" {
			data, err := obj.MarshalJSON()
			if err != nil {
				return err
			}
			fmt.Fprintln(s.out, string(data))
			continue
		}
		data, err := marshalYAML(obj.Object)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(s.out, "---")
		}
		fmt.Fprint(s.out, string(data))
	}
	return nil
}

// waitAddons polls the addons of a plan until each is enabled, or one fails.
func waitAddons(ctx context.Context, s streams, m *addon.Manager, plan *addon.EnablePlan, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := map[string]string{}
	for {
		done := true
		for _, st := range plan.Steps {
			status, err := m.Status(ctx, st.Addon.Name())
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
			line := status.State
			if status.Reason != "" {
				line += ": " + status.Reason
			}
			if last[status.Name] != line {
				last[status.Name] = line
				fmt.Fprintf(s.out, "  %s: %s\n", status.Name, line)
			}
			switch {
			case status.State == addon.StateFailed && status.Retrying:
				done = false // the controller keeps trying; it may still succeed before --timeout
			case status.State == addon.StateFailed:
				return fmt.Errorf("addon %s failed: %s", status.Name, status.Reason)
			case status.State == addon.StateEnabled:
			default:
				done = false
			}
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("addons not enabled after %s (ferry addon status NAME shows why)", timeout)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
