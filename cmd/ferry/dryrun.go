package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/pkg/appfile"
)

type dryRunOptions struct {
	files        []string
	definitions  []string
	clustersFile string
	objectsFile  string
	output       string
	validate     validateFlag
}

func newDryRunCmd(s streams) *cobra.Command {
	o := &dryRunOptions{}
	cmd := &cobra.Command{
		Use:   "dry-run -f app.yaml [-f ...] [-d defs-dir ...] [--clusters clusters.yaml] [-o yaml|json]",
		Short: "Render Applications offline and print what each deploy step would apply, where",
		Long: `Render Applications with the built-in definitions (and those in -d folders) and print every
Kubernetes object each deploy step would apply, with its cluster and namespace. No cluster is needed:
the clusters come from --clusters (a YAML list of {name, labels}); without it the only cluster is
"local", the hub.`,
		Example: `  ferry dry-run -f examples/hello/app.yaml
  ferry dry-run -f examples/multi-env/app.yaml --clusters examples/multi-env/clusters.yaml -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDryRun(cmd.Context(), s, o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "file", "f", nil, "Application YAML file, or - for stdin (repeatable)")
	cmd.Flags().StringArrayVarP(&o.definitions, "definitions", "d", nil, "folder or file of extra definitions (.cue or CR YAML); they override built-ins (repeatable)")
	cmd.Flags().StringVar(&o.clustersFile, "clusters", "", "YAML list of clusters {name, labels} to deploy to offline")
	cmd.Flags().StringVar(&o.objectsFile, "objects", "", "YAML stream of existing objects that ref-objects components read offline")
	cmd.Flags().StringVarP(&o.output, "output", "o", "yaml", "output format: yaml or json")
	o.validate.bind(cmd)
	return cmd
}

func runDryRun(ctx context.Context, s streams, o *dryRunOptions) error {
	if len(o.files) == 0 {
		return usageError{errors.New("give at least one Application with -f")}
	}
	if o.output != "yaml" && o.output != "json" {
		return usageError{fmt.Errorf("unknown output format %q: use yaml or json", o.output)}
	}
	planOpts, err := o.validate.plannerOptions()
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		// A dry-run renders and exits: collecting garbage only once the heap reaches 512 MiB
		// saves a fifth of its time, and a render that large still gets collected.
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(512 << 20)
	}
	reg, err := loadDefinitions(o.definitions)
	if err != nil {
		return err
	}
	clusters, err := readClusters(o.clustersFile)
	if err != nil {
		return err
	}
	objects, err := readObjects(o.objectsFile)
	if err != nil {
		return err
	}
	planner := appfile.NewPlanner(appfile.Offline(appfile.OfflineOptions{Definitions: reg, Clusters: clusters, Objects: objects}), planOpts)
	items := []appfile.Item{} // "items": [] in JSON when nothing renders, never null
	var failures []error
	for _, file := range o.files {
		data, name, err := readInput(s.in, file)
		if err != nil {
			return err
		}
		appfiles, err := appfile.ParseWith(name, data, appfile.ParseOptions{Validation: o.validate.level()})
		if err != nil {
			failures = append(failures, err)
			continue
		}
		for _, af := range appfiles {
			plan, err := planner.Plan(ctx, af, appfile.PlanOptions{})
			if err != nil {
				failures = append(failures, errors.New(appfile.DescribeProblems(af.App.Name, err)))
				continue
			}
			printWarnings(s, plan)
			items = append(items, plan.Items()...)
		}
	}
	if len(failures) > 0 {
		return errors.Join(failures...)
	}
	if o.output == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"items": items})
	}
	return writeYAMLStream(s.out, items)
}

func writeYAMLStream(w io.Writer, items []appfile.Item) error {
	// Encoding is most of the printing: encode on every core, write in order.
	docs := make([][]byte, len(items))
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(items)) {
		wg.Go(func() {
			for i := range next {
				docs[i], errs[i] = marshalYAML(items[i].Object)
			}
		})
	}
	for i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, it := range items {
		doc, err := docs[i], errs[i]
		if err != nil {
			return err
		}
		header := fmt.Sprintf("# step: %s, cluster: %s, namespace: %s, component: %s", it.Step, it.Cluster, it.Namespace, it.Component)
		if it.Policy != "" {
			header = fmt.Sprintf("# policy: %s, cluster: %s, namespace: %s", it.Policy, it.Cluster, it.Namespace)
		}
		if it.Trait != "" {
			header += ", trait: " + it.Trait
		}
		if _, err := fmt.Fprintf(w, "---\n%s\n%s", header, doc); err != nil {
			return err
		}
	}
	return nil
}

// readInput reads a file, or stdin for "-".
func readInput(stdin io.Reader, file string) ([]byte, string, error) {
	if file == "-" {
		data, err := io.ReadAll(stdin)
		return data, "<stdin>", err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, file, fmt.Errorf("read application: %w", err)
	}
	return data, file, nil
}

// readClusters reads the offline cluster list.
func readClusters(file string) ([]appfile.Cluster, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read clusters: %w", err)
	}
	var clusters []appfile.Cluster
	if err := yaml.UnmarshalStrict(data, &clusters); err != nil {
		return nil, fmt.Errorf("%s: expected a YAML list of {name, labels}: %w", file, err)
	}
	for i, c := range clusters {
		if c.Name == "" {
			return nil, fmt.Errorf("%s: cluster %d has no name", file, i+1)
		}
	}
	return clusters, nil
}

// printWarnings shows a plan's warnings on stderr.
func printWarnings(s streams, plan *appfile.Plan) {
	for _, w := range plan.Warnings {
		fmt.Fprintf(s.err, "Warning: application %q: %s\n", plan.App, w)
	}
}

// readObjects reads the offline stand-ins of existing objects: a YAML stream of objects.
func readObjects(file string) (appfile.StaticObjects, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read objects: %w", err)
	}
	return appfile.ParseObjects(file, data)
}
