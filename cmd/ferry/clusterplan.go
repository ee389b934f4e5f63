package main

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/clustersource"
	"github.com/ferryhq/ferry/pkg/install"
)

// readAppfiles reads Applications from files ("-" is stdin) and puts them in namespace unless
// they name their own.
func readAppfiles(s streams, files []string, namespace string, validate validateFlag) ([]*appfile.Appfile, error) {
	if len(files) == 0 {
		return nil, usageError{errors.New("give the Application with -f")}
	}
	var out []*appfile.Appfile
	for _, file := range files {
		data, name, err := readInput(s.in, file)
		if err != nil {
			return nil, err
		}
		afs, err := appfile.ParseWith(name, data, appfile.ParseOptions{Validation: validate.level()})
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

// clusterPlanner plans with the definitions, managed clusters and versions of the cluster, the
// same way the controller will: a problem is reported with its file:line before anything is
// sent.
func (k *kubeFlags) clusterPlanner(c client.Client, validate validateFlag) (*appfile.Planner, error) {
	opts, err := validate.plannerOptions()
	if err != nil {
		return nil, err
	}
	cfg, err := k.restConfig()
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	src := clustersource.New(clustersource.Options{Reader: c, Version: dc, SystemNamespace: install.DefaultNamespace})
	return appfile.NewPlanner(src, opts), nil
}

// planOnCluster plans one Application; an error says what is wrong with it.
func planOnCluster(ctx context.Context, planner *appfile.Planner, af *appfile.Appfile) (*appfile.Plan, error) {
	plan, err := planner.Plan(ctx, af, appfile.PlanOptions{})
	if err != nil {
		return nil, errors.New(appfile.DescribeProblems(af.App.Name, err))
	}
	return plan, nil
}
