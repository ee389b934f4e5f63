package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/definition"
)

type defRenderOptions struct {
	definitions    []string
	properties     []string
	propertiesFile string
	traits         []string
}

func newDefRenderCmd(s streams) *cobra.Command {
	o := &defRenderOptions{}
	cmd := &cobra.Command{
		Use:   "render FILE|NAME [--properties k=v ...|--properties-file f.yaml] [--trait TYPE[:k=v,...] ...]",
		Short: "Render one definition with properties and print the objects, offline",
		Long: `Render a definition — a .cue or CR YAML file, or the name of a known definition — the way an
Application using it is rendered. A trait is rendered on a webservice running nginx; a component
can get traits with --trait.`,
		Example: `  ferry def render my-trait.cue --properties replicas=3
  ferry def render webservice --properties image=nginx --properties ports='[{port: 80, expose: true}]' --trait scaler:replicas=2`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runDefRender(s, o, args[0])
		},
	}
	cmd.Flags().StringArrayVarP(&o.definitions, "definitions", "d", nil, "folder or file of extra definitions (repeatable)")
	cmd.Flags().StringArrayVarP(&o.properties, "properties", "p", nil, "a property as key=value; dotted keys nest, values are YAML (repeatable)")
	cmd.Flags().StringVar(&o.propertiesFile, "properties-file", "", "YAML file with the properties")
	cmd.Flags().StringArrayVar(&o.traits, "trait", nil, "a trait for a component: TYPE or TYPE:key=value,key=value (repeatable)")
	return cmd
}

func runDefRender(s streams, o *defRenderOptions, target string) error {
	reg, def, err := loadTarget(o.definitions, target)
	if err != nil {
		return err
	}
	c := renderCase{}
	if o.propertiesFile != "" {
		data, err := os.ReadFile(o.propertiesFile)
		if err != nil {
			return fmt.Errorf("read properties: %w", err)
		}
		v, err := decodeYAML(data)
		if err != nil {
			return fmt.Errorf("%s: %w", o.propertiesFile, err)
		}
		props, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected a YAML object of properties", o.propertiesFile)
		}
		c.Properties = props
	}
	flags, err := parseProperties(o.properties)
	if err != nil {
		return usageError{err}
	}
	if c.Properties == nil {
		c.Properties = map[string]any{}
	}
	for k, v := range flags {
		c.Properties[k] = v
	}
	for _, t := range o.traits {
		typ, props, _ := strings.Cut(t, ":")
		spec := traitSpec{Type: typ}
		if props != "" {
			if spec.Properties, err = parseProperties(strings.Split(props, ",")); err != nil {
				return usageError{err}
			}
		}
		c.Traits = append(c.Traits, spec)
	}
	objects, err := renderDefinition(reg, def, c)
	if err != nil {
		return err
	}
	items := make([]appfile.Item, len(objects))
	for i, obj := range objects {
		items[i] = appfile.Item{Step: "default", Cluster: appfile.LocalCluster, Namespace: "default", Component: "sample", Object: obj}
	}
	return writeYAMLStream(s.out, items)
}

// loadTarget loads the built-ins, the -d folders and, when target is a file, its definitions,
// and returns the definition target names.
func loadTarget(dirs []string, target string) (*definition.Registry, *definition.Definition, error) {
	reg, err := loadDefinitions(dirs)
	if err != nil {
		return nil, nil, err
	}
	if info, err := os.Stat(target); err == nil && !info.IsDir() {
		data, err := os.ReadFile(target)
		if err != nil {
			return nil, nil, err
		}
		defs, err := definition.Parse(target, data)
		if err != nil {
			return nil, nil, err
		}
		if len(defs) != 1 {
			return nil, nil, fmt.Errorf("%s holds %d definitions; render takes a file with one", target, len(defs))
		}
		reg.Add(defs[0])
		return reg, defs[0], nil
	}
	def, err := findDefinition(reg, "", target)
	return reg, def, err
}
