package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/spf13/cobra"
)

type addonInitOptions struct{ dir string }

func newAddonInitCmd(s streams) *cobra.Command {
	o := &addonInitOptions{}
	cmd := &cobra.Command{
		Use:   "init NAME",
		Short: "Scaffold an addon that vets: metadata.yaml, parameter.cue, template.cue, a definition, README.md",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give the addon's name")}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return runAddonInit(s, o, args[0]) },
	}
	cmd.Flags().StringVarP(&o.dir, "dir", "d", "", "directory to create (default: ./NAME)")
	return cmd
}

var addonNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func runAddonInit(s streams, o *addonInitOptions, name string) error {
	if !addonNameRE.MatchString(name) {
		return usageError{fmt.Errorf("addon name %q must be lowercase letters, digits and '-'", name)}
	}
	dir := o.dir
	if dir == "" {
		dir = name
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s already exists; give another --dir", dir)
	}
	files := map[string]string{
		"metadata.yaml": fmt.Sprintf(`name: %[1]s
version: 0.1.0
description: What %[1]s adds to the platform.
tags: []
# deployTo:
#   runtimeCluster: true      # also install on managed clusters (--clusters / --cluster-selector)
#   namespace: %[1]s-system
# dependencies:
#   - name: other-addon
#     version: ">=1.0.0 <2"
# system:
#   kubernetes: ">=1.30.0-0"
#   ferry: ">=0.1.0"
`, name),
		"parameter.cue": `parameter: {
	// +usage=Replicas of the addon's server
	replicas: *1 | int & >=1
}
`,
		"template.cue": fmt.Sprintf(`package main

output: {
	apiVersion: "core.oam.dev/v1beta1"
	kind:       "Application"
	spec: components: [{
		name: "%[1]s-settings"
		type: "k8s-objects"
		properties: objects: [{
			apiVersion: "v1"
			kind:       "ConfigMap"
			metadata: name: "%[1]s-settings"
			data: replicas: "\(parameter.replicas)"
		}]
	}]
}
`, name),
		filepath.Join("definitions", name+"-labels.cue"): fmt.Sprintf(`"%[1]s-labels": {
	type:        "trait"
	description: "An example trait of the %[1]s addon: labels the workload."
	attributes: appliesToWorkloads: ["*"]
}

template: {
	patch: metadata: labels: parameter
	parameter: [string]: string
}
`, name),
		filepath.Join("resources", ".keep"): "",
		"README.md":                         fmt.Sprintf("# %[1]s\n\nWhat the addon installs, its parameters and an example.\n\n    ferry addon vet %[1]s\n    ferry addon enable %[1]s replicas=2\n", name),
	}
	for _, f := range sortedFiles(files) {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(files[f]), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.out, "addon %s created in %s; check it with: ferry addon vet %s\n", name, dir, dir)
	return nil
}

func sortedFiles(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
