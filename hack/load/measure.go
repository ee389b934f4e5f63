package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

const (
	// changedWorker is the copy of the worker definition that --definition-change changes.
	changedWorker = "load-worker"
	// changedLabel marks the apps that use it.
	changedLabel = "load.ferry.dev/changed-definition"
)

var componentDefinition = schema.GroupVersionKind{Group: "core.oam.dev", Version: "v1beta1", Kind: "ComponentDefinition"}

// copyDefinition installs a copy of a built-in component definition under another name.
func copyDefinition(ctx context.Context, c client.Client, from, to string) error {
	src := &unstructured.Unstructured{}
	src.SetGroupVersionKind(componentDefinition)
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ferry-system", Name: from}, src); err != nil {
		return err
	}
	dst := &unstructured.Unstructured{Object: map[string]any{"apiVersion": src.GetAPIVersion(), "kind": src.GetKind(), "spec": src.Object["spec"]}}
	dst.SetNamespace("ferry-system")
	dst.SetName(to)
	return c.Create(ctx, dst)
}

// countRevisions counts ApplicationRevisions, reading only their metadata.
func countRevisions(ctx context.Context, c client.Client) (int, error) {
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("ApplicationRevisionList"))
	if err := c.List(ctx, &list); err != nil {
		return 0, err
	}
	return len(list.Items), nil
}

// measureDefinitionChange changes the definition some apps use and reports how long until
// all of them run a new revision, how many revisions were made, and the controllers' peak RSS
// meanwhile.
func measureDefinitionChange(ctx context.Context, c client.Client, ctls fleet) error {
	var apps v1beta1.ApplicationList
	if err := c.List(ctx, &apps, client.MatchingLabels{changedLabel: "yes"}); err != nil {
		return err
	}
	before := map[string]string{}
	for _, a := range apps.Items {
		if a.Status.LatestRevision != nil {
			before[a.Name] = a.Status.LatestRevision.Name
		}
	}
	revisions0, err := countRevisions(ctx, c)
	if err != nil {
		return err
	}
	for _, r := range ctls {
		resetPeak(r.pid)
	}
	cpu0, _, _ := ctls.stats()
	rec0 := ctls.scrape("ferry_application_reconcile_total")
	def := &unstructured.Unstructured{}
	def.SetGroupVersionKind(componentDefinition)
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ferry-system", Name: changedWorker}, def); err != nil {
		return err
	}
	template, _, _ := unstructured.NestedString(def.Object, "spec", "schematic", "cue", "template")
	if err := unstructured.SetNestedField(def.Object, template+"\n// changed by hack/load\n", "spec", "schematic", "cue", "template"); err != nil {
		return err
	}
	start := time.Now()
	if err := c.Update(ctx, def); err != nil {
		return err
	}
	for {
		if err := c.List(ctx, &apps, client.MatchingLabels{changedLabel: "yes"}); err != nil {
			return err
		}
		done := 0
		for _, a := range apps.Items {
			if a.Status.LatestRevision != nil && a.Status.LatestRevision.Name != before[a.Name] &&
				a.Status.Phase == v1beta1.ApplicationRunning && a.Status.ObservedGeneration == a.Generation {
				done++
			}
		}
		if done == len(apps.Items) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("definition change: %d of %d apps on a new revision after %s", done, len(apps.Items), time.Since(start))
		case <-time.After(time.Second):
		}
	}
	took := time.Since(start)
	cpu1, rss, maxRSS := ctls.stats()
	rec1 := ctls.scrape("ferry_application_reconcile_total")
	revisions1, err := countRevisions(ctx, c)
	if err != nil {
		return err
	}
	fmt.Printf("definition change reaching %d apps: all running a new revision after %s; %d new revisions in all, %.0f reconciles (status writes), %.1f CPU-seconds, peak RSS meanwhile %d MiB (largest replica %d MiB)\n",
		len(apps.Items), took.Round(time.Millisecond), revisions1-revisions0, rec1-rec0, cpu1-cpu0, rss/1024, maxRSS/1024)
	return nil
}

// countShard counts the apps labelled for a shard, reading only metadata.
func countShard(ctx context.Context, c client.Client, shard string) (int, error) {
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(v1beta1.GroupVersion.WithKind("ApplicationList"))
	if err := c.List(ctx, &list, client.MatchingLabels{v1beta1.LabelShardID: shard}); err != nil {
		return 0, err
	}
	return len(list.Items), nil
}

// measureKill SIGKILLs replica 0 and reports how long until its apps are labelled for the
// others and all apps run there.
func measureKill(ctx context.Context, c client.Client, ctls fleet, apps int) error {
	dead := ctls[0]
	n, err := countShard(ctx, c, dead.shard)
	if err != nil {
		return err
	}
	start := time.Now()
	dead.kill()
	var moved time.Duration
	for {
		left, err := countShard(ctx, c, dead.shard)
		if err != nil {
			return err
		}
		if left == 0 && moved == 0 {
			moved = time.Since(start)
		}
		if moved > 0 && ctls.running() == apps {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after killing %s: %d apps still on %s, %d of %d running, after %s", dead.name, left, dead.shard, ctls.running(), apps, time.Since(start))
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Printf("killed %s (%s, %d apps): its apps moved to the other shards after %s, all %d running there after %s\n",
		dead.name, dead.shard, n, moved.Round(time.Millisecond), apps, time.Since(start).Round(time.Millisecond))
	return nil
}
