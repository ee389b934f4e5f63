package testenv

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PlayKubelet reports every Deployment of a cluster ready until ctx ends, as kubelets and the
// Deployment controller would: the test clusters run no pods.
func PlayKubelet(ctx context.Context, c client.Client, every time.Duration) {
	PlayKubeletUnless(ctx, c, every, nil)
}

// PlayKubeletUnless is PlayKubelet that leaves every Deployment as it is while paused returns
// true: a cluster whose new pods never become ready.
func PlayKubeletUnless(ctx context.Context, c client.Client, every time.Duration, paused func() bool) {
	for ctx.Err() == nil {
		var list appsv1.DeploymentList
		if (paused == nil || !paused()) && c.List(ctx, &list) == nil {
			for i := range list.Items {
				d := &list.Items[i]
				if d.Status.ObservedGeneration == d.Generation {
					continue
				}
				r := int32(1)
				if d.Spec.Replicas != nil {
					r = *d.Spec.Replicas
				}
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: r, ReadyReplicas: r, UpdatedReplicas: r, AvailableReplicas: r}
				_ = c.Status().Update(ctx, d)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}
