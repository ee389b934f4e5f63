package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferryhq/ferry/pkg/definition"
)

type defInitOptions struct {
	kind string
	dir  string
}

func newDefInitCmd(s streams) *cobra.Command {
	o := &defInitOptions{}
	cmd := &cobra.Command{
		Use:   "init NAME --type component|trait|policy|workflow-step [--dir DIR]",
		Short: "Write a new definition file and its golden test file",
		Long: `Write DIR/NAME.cue, a definition with a parameter block and a template to start from, and
DIR/NAME.test.yaml, a golden test case for it that ` + "`ferry def test DIR`" + ` runs.`,
		Example: "  ferry def init team-labels --type trait --dir platform/definitions",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runDefInit(s, o, args[0])
		},
	}
	cmd.Flags().StringVarP(&o.kind, "type", "t", "", "component, trait, policy or workflow-step")
	cmd.Flags().StringVar(&o.dir, "dir", ".", "folder to write to")
	return cmd
}

var scaffolds = map[definition.Kind]string{
	definition.KindComponent: `%[1]q: {
	type:        "component"
	description: "TODO: what this component runs."
	attributes: {
		workload: {
			definition: {apiVersion: "apps/v1", kind: "Deployment"}
			type: "deployments.apps"
		}
		status: healthPolicy: #"""
			_ready: *0 | int
			if context.output.status.readyReplicas != _|_ {
				_ready: context.output.status.readyReplicas
			}
			isHealth: _ready == context.output.spec.replicas
			"""#
	}
}

template: {
	output: {
		apiVersion: "apps/v1"
		kind:       "Deployment"
		metadata: name: context.name
		spec: {
			replicas: parameter.replicas
			selector: matchLabels: "app.oam.dev/component": context.name
			template: {
				metadata: labels: "app.oam.dev/component": context.name
				spec: containers: [{
					name:  context.name
					image: parameter.image
				}]
			}
		}
	}
	parameter: {
		// +usage=Container image
		image: string
		// +usage=Number of pods
		replicas: *1 | int & >=0
	}
}
`,
	definition.KindTrait: `%[1]q: {
	type:        "trait"
	description: "TODO: what this trait changes."
	attributes: appliesToWorkloads: ["deployments.apps", "statefulsets.apps"]
}

template: {
	patch: {
		metadata: labels: "example.com/team": parameter.team
		spec: template: metadata: labels: "example.com/team": parameter.team
	}
	parameter: {
		// +usage=Team that owns the workload
		team: *"platform" | string
	}
}
`,
	definition.KindPolicy: `%[1]q: {
	type:        "policy"
	description: "TODO: what this policy decides."
}

template: {
	parameter: {
		// +usage=TODO
		enabled: *true | bool
	}
}
`,
	definition.KindWorkflowStep: `import "vela/op"

%[1]q: {
	type:        "workflow-step"
	description: "TODO: what this step does."
}

template: {
	say: op.#Message & {message: parameter.message}
	parameter: {
		// +usage=Message shown in the step's status
		message: *"done" | string
	}
}
`,
}

func runDefInit(s streams, o *defInitOptions, name string) error {
	kind, err := definition.ParseKind(o.kind)
	if err != nil {
		return usageError{err}
	}
	if len(validation.IsDNS1123Label(name)) > 0 {
		return usageError{fmt.Errorf("definition name %q must be lower-case letters, digits and '-'", name)}
	}
	defFile := filepath.Join(o.dir, name+".cue")
	testFile := filepath.Join(o.dir, name+".test.yaml")
	for _, f := range []string{defFile, testFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s exists; not overwriting it", f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	src := fmt.Sprintf(scaffolds[kind], name)
	defs, err := definition.Parse(defFile, []byte(src))
	if err != nil {
		return fmt.Errorf("scaffold: %w", err)
	}
	reg, err := loadDefinitions(nil)
	if err != nil {
		return err
	}
	reg.Add(defs[0])
	c := renderCase{Name: "defaults", Properties: map[string]any{}}
	if kind == definition.KindComponent {
		c.Properties["image"] = "nginx:1.27"
	}
	if c.Expected, err = renderDefinition(reg, defs[0], c); err != nil {
		return fmt.Errorf("scaffold: %w", err)
	}
	tests, err := marshalCases([]renderCase{c})
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Golden tests of %s: properties in, expected objects out. Run: ferry def test %s\n", name, o.dir)
	if err := os.WriteFile(defFile, []byte(src), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(testFile, append([]byte(header), tests...), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "wrote %s and %s\n", defFile, testFile)
	return nil
}
