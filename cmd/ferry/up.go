package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// cliFieldManager is the server-side-apply field manager of objects the CLI writes.
const cliFieldManager = "ferry-cli"

type upOptions struct {
	kube     kubeFlags
	files    []string
	wait     bool
	timeout  time.Duration
	validate validateFlag
}

func newUpCmd(s streams) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up -f app.yaml [--wait]",
		Short: "Check an Application against the cluster's definitions and apply it",
		Long: `Up renders the Application with the definitions installed on the cluster, exactly as the
controller will, and applies it only when it renders: every problem is reported with its
file:line and nothing is sent. With --wait it shows the workflow steps and component health as
they change, until the app runs, waits for approval, fails, or --timeout passes.`,
		Example: "  ferry up -f examples/hello/app.yaml --wait",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runUp(cmd.Context(), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().StringArrayVarP(&o.files, "file", "f", nil, "Application YAML file, or - for stdin (repeatable)")
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait until the Application runs (or fails) and show progress")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long --wait waits")
	o.validate.bind(cmd)
	return cmd
}

func runUp(ctx context.Context, s streams, o *upOptions) error {
	c, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	afs, err := readAppfiles(s, o.files, ns, o.validate)
	if err != nil {
		return err
	}
	planner, err := o.kube.clusterPlanner(c, o.validate)
	if err != nil {
		return err
	}
	var problems []error
	for _, af := range afs {
		plan, err := planOnCluster(ctx, planner, af)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		printWarnings(s, plan)
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	for _, af := range afs {
		if err := applyApp(ctx, c, af.App); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "application %s/%s applied\n", af.App.Namespace, af.App.Name)
	}
	if !o.wait {
		return nil
	}
	for _, af := range afs {
		if err := waitApp(ctx, s, c, client.ObjectKeyFromObject(af.App), o.timeout); err != nil {
			return err
		}
	}
	return nil
}

// applyApp creates or updates an Application with server-side apply.
func applyApp(ctx context.Context, c client.Client, app *v1beta1.Application) error {
	app = app.DeepCopy()
	app.APIVersion, app.Kind = v1beta1.GroupVersion.String(), "Application"
	app.Status = v1beta1.ApplicationStatus{}
	data, err := json.Marshal(app)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return err
	}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if err := c.Patch(ctx, u, client.Apply, client.FieldOwner(cliFieldManager), client.ForceOwnership); err != nil {
		if apierrors.IsNotFound(err) || isNoKind(err) {
			return fmt.Errorf("apply application %s: %w (is Ferry installed? run: ferry install)", app.Name, err)
		}
		return fmt.Errorf("apply application %s: %w", app.Name, err)
	}
	return nil
}

// waitApp prints progress until the app settles.
func waitApp(ctx context.Context, s streams, c client.Client, key client.ObjectKey, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	shown := map[string]bool{}
	var last *v1beta1.Application
	for {
		app := &v1beta1.Application{}
		if err := c.Get(ctx, key, app); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		last = app
		for _, line := range progressLines(app) {
			if !shown[line] {
				shown[line] = true
				fmt.Fprintln(s.out, "  "+line)
			}
		}
		if done, err := settled(app); done {
			if err != nil {
				return fmt.Errorf("application %s: %w", key, err)
			}
			if app.Status.Phase == v1beta1.ApplicationWorkflowSuspending {
				fmt.Fprintf(s.out, "application %s is waiting for approval: ferry workflow resume %s -n %s\n", key, key.Name, key.Namespace)
				return nil
			}
			fmt.Fprintf(s.out, "application %s is running (revision %s)\n", key, app.Status.LatestRevision.Name)
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
			continue
		}
		break
	}
	phase := "unknown"
	if last != nil {
		phase = string(last.Status.Phase)
	}
	return fmt.Errorf("application %s: still %s after %s (ferry status %s -n %s shows why)", key, phase, timeout, key.Name, key.Namespace)
}
