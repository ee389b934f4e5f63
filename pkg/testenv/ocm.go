package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"errors"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// OCM CRD files in the open-cluster-management.io/api module.
var (
	hubCRDs = []string{
		"work/v1/0000_00_work.open-cluster-management.io_manifestworks.crd.yaml",
		"cluster/v1/0000_00_clusters.open-cluster-management.io_managedclusters.crd.yaml",
		"cluster/v1beta1/0000_02_clusters.open-cluster-management.io_placements.crd.yaml",
		"cluster/v1beta1/0000_03_clusters.open-cluster-management.io_placementdecisions.crd.yaml",
		"cluster/v1beta2/0000_00_clusters.open-cluster-management.io_managedclustersets.crd.yaml",
		"cluster/v1beta2/0000_01_clusters.open-cluster-management.io_managedclustersetbindings.crd.yaml",
		"cluster/v1alpha1/0000_05_clusters.open-cluster-management.io_addonplacementscores.crd.yaml",
		"cluster/v1alpha1/0000_02_clusters.open-cluster-management.io_clusterclaims.crd.yaml",
	}
	spokeCRDs = []string{
		"work/v1/0000_01_work.open-cluster-management.io_appliedmanifestworks.crd.yaml",
	}
)

// agentNamespace is where work agents keep their state on a managed cluster.
const agentNamespace = "open-cluster-management-agent"

// NewClient returns a controller-runtime client for a cluster with the core, CRD and given
// schemes.
func NewClient(cfg *rest.Config, addToScheme ...func(*runtime.Scheme) error) (client.Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range append([]func(*runtime.Scheme) error{corev1.AddToScheme, apiextensionsv1.AddToScheme}, addToScheme...) {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// setUpOCM installs the CRDs, registers every managed cluster on the hub, starts one work agent
// per managed cluster and waits until each has applied a probe ManifestWork.
func (e *Env) setUpOCM(ctx context.Context) error {
	start := time.Now()
	hub, err := NewClient(e.Hub.Config)
	if err != nil {
		return err
	}
	if err := InstallCRDs(ctx, hub, e.opts.Binaries.OCMAPIDir, hubCRDs); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if e.opts.Placement {
		if err := e.startPlacement(ctx, hub); err != nil {
			return err
		}
	}
	errs := make([]error, len(e.Managed))
	var wg sync.WaitGroup
	for i, c := range e.Managed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.joinCluster(ctx, hub, c)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(e.Managed) > 0 {
		fmt.Fprintf(e.opts.Log, "testenv: %d work agents applying ManifestWorks after %s\n", len(e.Managed), time.Since(start).Round(10*time.Millisecond))
	}
	return nil
}

// joinCluster prepares one managed cluster and its hub side, starts its agent and probes it.
func (e *Env) joinCluster(ctx context.Context, hub client.Client, c *Cluster) error {
	spoke, err := NewClient(c.Config)
	if err != nil {
		return err
	}
	if err := InstallCRDs(ctx, spoke, e.opts.Binaries.OCMAPIDir, spokeCRDs); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if err := createNamespace(ctx, spoke, agentNamespace); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	if err := createNamespace(ctx, hub, c.Name); err != nil {
		return fmt.Errorf("hub namespace for %s: %w", c.Name, err)
	}
	mc := &unstructured.Unstructured{}
	mc.SetAPIVersion("cluster.open-cluster-management.io/v1")
	mc.SetKind("ManagedCluster")
	mc.SetName(c.Name)
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	if e.opts.Placement {
		labels[ClusterSetLabel] = ClusterSetDefault
	}
	mc.SetLabels(labels)
	_ = unstructured.SetNestedField(mc.Object, true, "spec", "hubAcceptsClient")
	if err := hub.Create(ctx, mc); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ManagedCluster %s: %w", c.Name, err)
	}
	if err := e.startAgent(c); err != nil {
		return err
	}
	return probe(ctx, hub, spoke, c.Name)
}

// The ManagedClusterSet every managed cluster joins when Options.Placement is set, and OCM's
// label that puts a cluster in a set.
const (
	ClusterSetDefault = "default"
	ClusterSetLabel   = "cluster.open-cluster-management.io/clusterset"
)

// startPlacement creates the cluster set and starts OCM's placement controller on the hub.
func (e *Env) startPlacement(ctx context.Context, hub client.Client) error {
	const ns = "open-cluster-management-hub"
	if err := createNamespace(ctx, hub, ns); err != nil {
		return err
	}
	set := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cluster.open-cluster-management.io/v1beta2", "kind": "ManagedClusterSet",
		"metadata": map[string]any{"name": ClusterSetDefault},
		"spec":     map[string]any{"clusterSelector": map[string]any{"selectorType": "ExclusiveClusterSetLabel"}},
	}}
	if err := hub.Create(ctx, set); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ManagedClusterSet %s: %w", ClusterSetDefault, err)
	}
	dir, err := dirOf(e.Dir, "placement")
	if err != nil {
		return err
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	p, err := startProcess(e.Dir, "placement", e.opts.Binaries.Placement, []string{
		"controller", "--kubeconfig=" + e.Hub.Kubeconfig, "--namespace=" + ns,
		fmt.Sprintf("--listen=127.0.0.1:%d", port), "--disable-leader-election",
	}, []string{"TMPDIR=" + dir}, e.opts.Detach)
	if err != nil {
		return err
	}
	e.track(p)
	return nil
}

func (e *Env) startAgent(c *Cluster) error {
	dir, err := dirOf(e.Dir, "clusters", c.Name, "agent")
	if err != nil {
		return err
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	hubKubeconfig := e.Hub.Kubeconfig
	p, err := startProcess(e.Dir, "work-agent-"+c.Name, e.opts.Binaries.WorkAgent, []string{
		"agent",
		"--spoke-cluster-name=" + c.Name, "--agent-id=" + c.Name + "-agent",
		// The kube driver reads the hub from --workload-source-config; --hub-kubeconfig alone
		// is not enough.
		"--workload-source-driver=kube", "--workload-source-config=" + hubKubeconfig,
		"--hub-kubeconfig=" + hubKubeconfig, "--kubeconfig=" + c.Kubeconfig,
		"--namespace=" + agentNamespace,
		fmt.Sprintf("--listen=127.0.0.1:%d", port),
		"--disable-leader-election",
		"--status-sync-interval=" + e.opts.StatusSyncInterval.String(),
	}, []string{"TMPDIR=" + dir}, e.opts.Detach)
	if err != nil {
		return err
	}
	e.track(p)
	return nil
}

// probe sends a ManifestWork with one ConfigMap to a cluster, waits for the object to appear on
// the cluster, and deletes the work again: proof that the agent pulls from the hub.
func probe(ctx context.Context, hub, spoke client.Client, cluster string) error {
	name := "testenv-probe"
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": agentNamespace}, "data": map[string]any{"probe": "ok"}}
	mw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "work.open-cluster-management.io/v1", "kind": "ManifestWork",
		"metadata": map[string]any{"name": name, "namespace": cluster},
		"spec":     map[string]any{"workload": map[string]any{"manifests": []any{cm}}},
	}}
	if err := hub.Create(ctx, mw); err != nil {
		return fmt.Errorf("cluster %s: create probe ManifestWork: %w", cluster, err)
	}
	err := wait(ctx, 60*time.Second, "work agent of "+cluster+" applies a ManifestWork", func() (bool, error) {
		var got corev1.ConfigMap
		err := spoke.Get(ctx, client.ObjectKey{Namespace: agentNamespace, Name: name}, &got)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return err
	}
	if err := hub.Delete(ctx, mw); err != nil {
		return fmt.Errorf("cluster %s: delete probe ManifestWork: %w", cluster, err)
	}
	return wait(ctx, 60*time.Second, "probe ManifestWork of "+cluster+" cleaned up", func() (bool, error) {
		err := hub.Get(ctx, client.ObjectKeyFromObject(mw), mw.DeepCopy())
		return apierrors.IsNotFound(err), nil
	})
}

func createNamespace(ctx context.Context, c client.Client, name string) error {
	err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// InstallCRDs creates CRDs from YAML files under dir and waits until they are established.
func InstallCRDs(ctx context.Context, c client.Client, dir string, files []string) error {
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("read CRD: %w", err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return fmt.Errorf("decode CRD %s: %w", f, err)
		}
		if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	for _, name := range names {
		err := wait(ctx, 30*time.Second, "CRD "+name+" established", func() (bool, error) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
				return false, err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// InstallOCMHubCRDs installs the OCM hub CRDs (ManifestWork, ManagedCluster, Placement, ...)
// into a cluster, e.g. an envtest hub for measurements without work agents.
func InstallOCMHubCRDs(ctx context.Context, c client.Client, bins *Binaries) error {
	return InstallCRDs(ctx, c, bins.OCMAPIDir, hubCRDs)
}
