package main

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/install"
)

// readAppfiles reads Applications from files ("-" is stdin) and puts them in namespace unless
// they name their own.
func readAppfiles(s streams, files []string, namespace string) ([]*appfile.Appfile, error) {
	if len(files) == 0 {
		return nil, usageError{errors.New("give the Application with -f")}
	}
	var out []*appfile.Appfile
	for _, file := range files {
		data, name, err := readInput(s.in, file)
		if err != nil {
			return nil, err
		}
		afs, err := appfile.Parse(name, data)
		if err != nil {
			return nil, err
		}
		for _, af := range afs {
			if af.App.Namespace == "" {
				af.App.Namespace = namespace
			}
		}
		out = append(out, afs...)
	}
	return out, nil
}

// planOnCluster renders an Application with the definitions installed on the cluster, the
// same way the controller will: a problem is reported with its file:line before anything is
// sent.
func planOnCluster(ctx context.Context, c client.Client, af *appfile.Appfile) (*appfile.Plan, error) {
	defs := controller.NewDefinitionSource(c, install.DefaultNamespace).ForNamespace(ctx, af.App.Namespace)
	var list clusterv1.ManagedClusterList
	if err := c.List(ctx, &list); err != nil && !meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("list managed clusters: %w", err)
	}
	var clusters []appfile.Cluster
	for _, mc := range list.Items {
		clusters = append(clusters, appfile.Cluster{Name: mc.Name, Labels: mc.Labels})
	}
	planner := appfile.NewPlanner(appfile.Options{Definitions: defs, Engine: cue.NewEngine(cue.Options{}),
		Clusters: clusters, ClusterVersion: cue.DefaultClusterVersion})
	plan, err := planner.Plan(af)
	if err != nil {
		return nil, fmt.Errorf("application %q: %w", af.App.Name, err)
	}
	return plan, nil
}
