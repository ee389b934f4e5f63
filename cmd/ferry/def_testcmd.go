package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	yamlv4 "go.yaml.in/yaml/v4"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

type defTestOptions struct {
	update bool
}

func newDefTestCmd(s streams) *cobra.Command {
	o := &defTestOptions{}
	cmd := &cobra.Command{
		Use:   "test DIR [--update]",
		Short: "Run the golden tests next to definitions: NAME.test.yaml for NAME.cue",
		Long: `Load the definitions of DIR (with the built-ins) and run every NAME.test.yaml in it: each case gives
properties of definition NAME (and for a trait, optionally the component it is applied to) and the
objects expected. Differences are printed as a diff; --update writes what is rendered now.`,
		Example: "  ferry def test platform/definitions",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return runDefTest(s, o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.update, "update", false, "write the rendered objects as the expected ones")
	return cmd
}

func runDefTest(s streams, o *defTestOptions, dir string) error {
	reg, err := loadDefinitions([]string{dir})
	if err != nil {
		return err
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".test.yaml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no *.test.yaml files in %s", dir)
	}
	total, failed := 0, 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".test.yaml")
		def, ok := reg.Lookup(name)
		if !ok {
			return fmt.Errorf("%s: no definition named %q", file, name)
		}
		n, f, err := runTestFile(s, reg, def, file, o.update)
		if err != nil {
			return err
		}
		total, failed = total+n, failed+f
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cases failed", failed, total)
	}
	fmt.Fprintf(s.out, "ok: %d cases\n", total)
	return nil
}

// runTestFile runs the cases of one file and returns how many ran and failed.
func runTestFile(s streams, reg *definition.Registry, def *definition.Definition, file string, update bool) (int, int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	cases, err := readCases(data)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", file, err)
	}
	failed := 0
	for i := range cases {
		c := &cases[i]
		label := fmt.Sprintf("%s/%s", def.Name, c.Name)
		got, err := renderDefinition(reg, def, *c)
		if err != nil {
			failed++
			fmt.Fprintf(s.out, "FAIL %s: %v\n", label, err)
			continue
		}
		if update {
			c.Expected = got
			continue
		}
		if diff := objectDiff(c.Expected, got); diff != "" {
			failed++
			fmt.Fprintf(s.out, "FAIL %s (%s):\n%s", label, file, diff)
			continue
		}
		fmt.Fprintf(s.out, "ok   %s\n", label)
	}
	if update {
		out, err := marshalCases(cases)
		if err != nil {
			return 0, 0, err
		}
		if err := os.WriteFile(file, append(leadingComments(data), out...), 0o644); err != nil {
			return 0, 0, err
		}
		fmt.Fprintf(s.out, "updated %s\n", file)
	}
	return len(cases), failed, nil
}

// readCases decodes a test file keeping integers as integers.
func readCases(data []byte) ([]renderCase, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var cases []renderCase
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		return nil, fmt.Errorf("expected a list of cases {name, properties, component, traits, expected}: %w", err)
	}
	for i := range cases {
		c := &cases[i]
		if c.Name == "" {
			c.Name = fmt.Sprintf("case-%d", i+1)
		}
		cue.NormalizeJSON(c.Properties)
		if c.Component != nil {
			cue.NormalizeJSON(c.Component.Properties)
		}
		for _, t := range c.Traits {
			cue.NormalizeJSON(t.Properties)
		}
		for _, e := range c.Expected {
			cue.NormalizeJSON(e)
		}
	}
	return cases, nil
}

// objectDiff compares objects as YAML and returns a unified diff, or "" when they are equal.
func objectDiff(want, got []map[string]any) string {
	wantYAML, _ := yaml.Marshal(want)
	gotYAML, _ := yaml.Marshal(got)
	if bytes.Equal(wantYAML, gotYAML) || reflect.DeepEqual(want, got) {
		return ""
	}
	diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(wantYAML)), B: difflib.SplitLines(string(gotYAML)),
		FromFile: "expected", ToFile: "rendered", Context: 3,
	})
	return diff
}

// leadingComments keeps a file's header comments when it is rewritten.
func leadingComments(data []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			break
		}
		out = append(out, line...)
	}
	return out
}

// marshalCases writes cases as YAML with name first and the objects' keys sorted.
func marshalCases(cases []renderCase) ([]byte, error) {
	var b bytes.Buffer
	enc := yamlv4.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cases); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
