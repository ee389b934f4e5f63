package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/clustersource"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/install"
)

func newAddonCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "addon",
		Short: "Write, package, publish, enable and disable addons: platform capabilities with their definitions",
		Long: `An addon is a versioned package of definitions, the objects that install a capability, and
parameters, in KubeVela's addon layout. Enabled addons are recorded on the hub in ` + install.DefaultNamespace + `
(an Application addon-NAME, its definitions, and a Secret addon-NAME-record), and the controller
delivers them like any Application.`,
	}
	cmd.AddCommand(newAddonInitCmd(s), newAddonVetCmd(s), newAddonPackageCmd(s), newAddonIndexCmd(s),
		newAddonRegistryCmd(s), newAddonEnableCmd(s), newAddonUpgradeCmd(s), newAddonDisableCmd(s),
		newAddonListCmd(s), newAddonStatusCmd(s), newAddonDocCmd(s))
	return cmd
}

// addonManager connects to the hub and opens its registries.
func (k *kubeFlags) addonManager(ctx context.Context, artifacts addon.ArtifactOptions) (*addon.Manager, client.Client, error) {
	c, _, err := k.client()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := k.restConfig()
	if err != nil {
		return nil, nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	regs, _, err := addon.OpenRegistries(ctx, c, install.DefaultNamespace)
	if err != nil {
		return nil, nil, err
	}
	src := clustersource.New(clustersource.Options{Reader: c, Version: dc, SystemNamespace: install.DefaultNamespace})
	kubeVersion := ""
	if v, err := dc.ServerVersion(); err == nil {
		kubeVersion = v.GitVersion
	}
	if artifacts.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			artifacts.CacheDir = filepath.Join(dir, "ferry", "artifacts")
		}
	}
	m, err := addon.NewManager(addon.Options{
		Client: c, Namespace: install.DefaultNamespace, Registries: regs, Artifacts: artifacts,
		Engine:            newEngine(cue.ValidateStrict),
		Check:             addonCheck(src, controllerRights{client: c, mapper: c.RESTMapper()}),
		KubernetesVersion: kubeVersion, FerryVersion: version,
		ManagedClusters: func(ctx context.Context) ([]string, error) {
			clusters, err := src.Clusters.ManagedClusters(ctx)
			if err != nil {
				return nil, err
			}
			var names []string
			for _, c := range clusters {
				names = append(names, c.Name)
			}
			return names, nil
		},
	})
	return m, c, err
}

// addonCheck plans an addon's Application on the hub as the webhook and controller will, with
// the definitions being enabled alongside it in front of the hub's, and warns about kinds it
// puts on the hub that the controller may not apply.
func addonCheck(src appfile.Sources, rights controllerRights) func(context.Context, *v1beta1.Application, []*definition.Definition) ([]string, error) {
	return func(ctx context.Context, app *v1beta1.Application, defs []*definition.Definition) ([]string, error) {
		extra := definition.New()
		for _, d := range defs {
			extra.Add(d)
		}
		layered := src
		layered.Definitions = layeredDefinitions{first: extra, rest: src.Definitions}
		planner := appfile.NewPlanner(layered, appfile.Options{Engine: newEngine(cue.ValidateStrict)})
		plan, err := planner.Plan(ctx, appfile.FromApplication(app), appfile.PlanOptions{})
		if err != nil {
			return nil, errors.New(appfile.DescribeProblems(app.Name, err))
		}
		return rights.missing(ctx, plan), nil
	}
}

// layeredDefinitions resolves a type in first, then in rest.
type layeredDefinitions struct {
	first *definition.Registry
	rest  appfile.DefinitionSource
}

func (l layeredDefinitions) Definition(ctx context.Context, namespace string, kind definition.Kind, name string) (*definition.Definition, error) {
	if d, err := l.first.Get(kind, name); err == nil {
		return d, nil
	}
	return l.rest.Definition(ctx, namespace, kind, name)
}

// parseAddonRef splits NAME[@VERSION].
func parseAddonRef(ref string) (string, string) {
	name, ver, _ := strings.Cut(ref, "@")
	return name, ver
}

// parseParameters reads -f values files, then key=value arguments (a.b=c nests; values are
// YAML scalars, so replicas=2 is a number and debug=true a boolean).
func parseParameters(files, args []string) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = addon.MergeParameters(out, m)
	}
	for _, a := range args {
		key, raw, ok := strings.Cut(a, "=")
		if !ok || key == "" {
			return nil, usageError{fmt.Errorf("parameter %q: write KEY=VALUE", a)}
		}
		var v any
		if err := yaml.Unmarshal([]byte(raw), &v); err != nil || v == nil {
			v = raw
		}
		if _, isMap := v.(map[string]any); isMap {
			v = raw
		}
		parts := strings.Split(key, ".")
		cur := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
	return out, nil
}

// parseSelector reads k=v,k2=v2.
func parseSelector(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--cluster-selector %q: write key=value[,key=value]", s)}
		}
		out[k] = v
	}
	return out, nil
}

func joinSorted(s []string) string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return strings.Join(s, ", ")
}
