package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

type deleteOptions struct {
	kube    kubeFlags
	wait    bool
	timeout time.Duration
}

func newDeleteCmd(s streams) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete APP [--wait]",
		Short: "Delete an Application and everything it owns",
		Long: `Delete removes the Application; the controller then deletes exactly the objects its resource
trackers say it owns (garbage-collect rules may keep or orphan some) and lets it go. With --wait
the command returns once all of that is done.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runDelete(cmd.Context(), s, o, args[0]) },
	}
	o.kube.bind(cmd)
	cmd.Flags().BoolVar(&o.wait, "wait", false, "wait until the app and what it owns are gone")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long --wait waits")
	return cmd
}

func runDelete(ctx context.Context, s streams, o *deleteOptions, name string) error {
	c, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	app := &v1beta1.Application{}
	key := client.ObjectKey{Namespace: ns, Name: name}
	if err := c.Get(ctx, key, app); err != nil {
		return fmt.Errorf("get application %s: %w", key, err)
	}
	if err := c.Delete(ctx, app); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete application %s: %w", key, err)
	}
	fmt.Fprintf(s.out, "application %s deleted\n", key)
	if !o.wait {
		return nil
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, o.timeout, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, key, app)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		for _, cond := range app.Status.Conditions {
			if cond.Type == v1beta1.ConditionGarbageCollected && cond.Status == "False" && cond.Message != last {
				last = cond.Message
				fmt.Fprintf(s.out, "  %s\n", cond.Message)
			}
		}
		return false, client.IgnoreNotFound(err)
	})
	if err != nil {
		return fmt.Errorf("application %s is not gone after %s: %s", key, o.timeout, orNone(last, "is the controller running?"))
	}
	fmt.Fprintf(s.out, "application %s and what it owned are gone\n", key)
	return nil
}
