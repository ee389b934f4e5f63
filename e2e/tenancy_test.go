package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// tenantRules are what a tenant may do in their namespace, like Kubernetes' edit role (whose
// rules a kube-controller-manager would aggregate; the test clusters run none).
var tenantRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets", "services", "serviceaccounts", "persistentvolumeclaims"}, Verbs: []string{"*"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets"}, Verbs: []string{"*"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs", "cronjobs"}, Verbs: []string{"*"}},
	{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"impersonate"}},
}

// ensureClusterRole creates a ClusterRole on a cluster.
func ensureClusterRole(t *testing.T, c client.Client, name string, rules []rbacv1.PolicyRule) {
	t.Helper()
	err := c.Create(context.Background(), &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
}

// tenant gives user the rights a platform team gives a tenant in namespace — write
// Applications there and, unless role is empty, what ClusterRole role allows — and returns a
// client acting as them (group "tenants"), as their kubectl would.
func (f *fleet) tenant(user, namespace, role string) client.Client {
	f.t.Helper()
	ctx := context.Background()
	f.namespace(namespace)
	ensureClusterRole(f.t, f.hub, "tenant", tenantRules)
	apps := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "applications-" + user},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1beta1.GroupVersion.Group}, Resources: []string{"applications"}, Verbs: []string{"*"}}}}
	require.NoError(f.t, f.hub.Create(ctx, apps))
	refs := []rbacv1.RoleRef{{APIGroup: rbacv1.GroupName, Kind: "Role", Name: apps.Name}}
	if role != "" {
		refs = append(refs, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role})
	}
	for _, ref := range refs {
		b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: user + "-" + ref.Name}, RoleRef: ref,
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
		require.NoError(f.t, f.hub.Create(ctx, b))
	}
	cfg := rest.CopyConfig(f.env.Hub.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"tenants"}}
	c, err := ferryscheme.NewClient(cfg)
	require.NoError(f.t, err)
	return c
}

func (f *fleet) namespace(name string) {
	f.t.Helper()
	err := f.hub.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(f.t, err)
	}
}

// createAppAs creates an Application as c; admission may refuse it.
func (f *fleet) createAppAs(c client.Client, doc string) (*v1beta1.Application, error) {
	f.t.Helper()
	app := &v1beta1.Application{}
	require.NoError(f.t, yaml.Unmarshal([]byte(doc), app))
	return app, c.Create(context.Background(), app)
}

// stepMessages joins the messages of the app's steps.
func stepMessages(a *v1beta1.Application) string {
	if a.Status.Workflow == nil {
		return ""
	}
	var out []string
	for _, s := range a.Status.Workflow.Steps {
		out = append(out, s.Message)
	}
	return strings.Join(out, "\n")
}

// TestTenantCanDoOnlyWhatTheirRBACAllows: a tenant who may edit namespace team-a, and write
// Applications there, gets through Ferry exactly that — on the hub (Ferry acts as them) and on a
// managed cluster (its ManifestWorks name the executor ferry-tenant of team-a, which the
// platform team lets edit team-a there). Every attempt at more fails with a message naming what
// was refused, and nothing is created.
func TestTenantCanDoOnlyWhatTheirRBACAllows(t *testing.T) {
	f := startFleetTrusting(t, testenv.Options{Clusters: []testenv.ClusterSpec{{Name: "edge"}}}, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go testenv.PlayKubelet(ctx, f.hub, 200*time.Millisecond)
	alice := f.tenant("alice", "team-a", "tenant")
	f.namespace("team-b")
	ensureClusterRole(t, f.spokes["edge"], "tenant", tenantRules)
	require.NoError(t, testenv.GrantExecutor(ctx, f.spokes["edge"], "team-a", install.DefaultExecutor, "tenant"))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "db"}, StringData: map[string]string{"password": "b-team-secret-8d1f"}}
	require.NoError(t, f.hub.Create(ctx, secret))
	shared := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "shared"}, Data: map[string]string{"owner": "team-b"}}
	require.NoError(t, f.hub.Create(ctx, shared))

	// The ordinary app: a Deployment and a Service in team-a, on the hub and on edge.
	_, err := f.createAppAs(alice, `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop, namespace: team-a}
spec:
  components:
    - {name: shop, type: webservice, properties: {image: "shop:1", ports: [{port: 80, expose: true}]}}
`)
	require.NoError(t, err)
	_, err = f.createAppAs(alice, `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: edge-shop, namespace: team-a}
spec:
  components:
    - {name: edge-shop, type: webservice, properties: {image: "shop:1", ports: [{port: 80, expose: true}]}}
  policies:
    - {name: edge, type: topology, properties: {clusters: [edge]}}
`)
	require.NoError(t, err)
	shop := f.waitApp("team-a", "shop", "running", phase(v1beta1.ApplicationRunning))
	require.Equal(t, "alice", shop.Annotations[v1beta1.AnnotationUsername], "admission records the writer")
	require.Equal(t, "tenants,system:authenticated", shop.Annotations[v1beta1.AnnotationGroup])
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "shop"}, &corev1.Service{}))
	f.waitApp("team-a", "edge-shop", "running", phase(v1beta1.ApplicationRunning))
	f.waitDeployment("edge", "team-a", "edge-shop", true)
	require.NoError(t, f.spokes["edge"].Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "edge-shop"}, &corev1.Service{}))

	// Attempts at more than team-a: each fails, saying what RBAC refused.
	attempts := []struct {
		name, components, policies, workflow string
		refused                              []string
	}{
		{name: "escalate", components: `
    - name: escalate
      type: k8s-objects
      properties:
        objects:
          - {apiVersion: v1, kind: Namespace, metadata: {name: alice-own}}
          - apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRoleBinding
            metadata: {name: alice-admin}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
            subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]`,
			refused: []string{`User "alice" cannot`, `namespaces`, `clusterrolebindings`}},
		{name: "write-b", components: `
    - name: write-b
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: planted, namespace: team-b}, data: {a: "1"}}]`,
			refused: []string{`User "alice" cannot`, `configmaps`, `"team-b"`}},
		{name: "take-over-b", components: `
    - name: take-over-b
      type: k8s-objects
      properties:
        objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: shared, namespace: team-b}, data: {owner: alice}}]`,
			policies: `
    - {name: adopt, type: take-over, properties: {rules: [{selector: {resourceTypes: [ConfigMap]}}]}}`,
			refused: []string{`User "alice" cannot`, `configmaps`, `"team-b"`}},
		{name: "read-b", components: `
    - {name: read-b, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: read-b}}]}}`,
			workflow: `
    - {name: steal, type: read-object, properties: {apiVersion: v1, kind: Secret, name: db, namespace: team-b}}`,
			refused: []string{`User "alice" cannot get resource "secrets"`, `"team-b"`}},
		{name: "export-b", components: `
    - {name: export-b, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: export-b}}]}}`,
			workflow: `
    - {name: plant, type: export2secret, properties: {secretName: planted, namespace: team-b, data: {k: v}}}`,
			refused: []string{`User "alice" cannot`, `secrets`, `"team-b"`}},
		{name: "work", components: `
    - name: work
      type: k8s-objects
      properties:
        objects:
          - apiVersion: work.open-cluster-management.io/v1
            kind: ManifestWork
            metadata: {name: sneaky, namespace: edge}
            spec: {workload: {manifests: [{apiVersion: v1, kind: Namespace, metadata: {name: sneaky}}]}}`,
			refused: []string{`User "alice" cannot`, `manifestworks`, `"edge"`}},
	}
	for _, a := range attempts {
		doc := fmt.Sprintf("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: %s, namespace: team-a}\nspec:\n  components:%s\n", a.name, a.components)
		if a.policies != "" {
			doc += "  policies:" + a.policies + "\n"
		}
		if a.workflow != "" {
			doc += "  workflow:\n    steps:" + a.workflow + "\n"
		}
		_, err := f.createAppAs(alice, doc)
		require.NoError(t, err, a.name)
	}
	for _, a := range attempts {
		app := f.waitApp("team-a", a.name, "a refusal", func(app *v1beta1.Application) bool {
			return strings.Contains(stepMessages(app), "forbidden")
		})
		for _, want := range a.refused {
			require.Contains(t, stepMessages(app), want, a.name)
		}
		status, err := yaml.Marshal(app.Status)
		require.NoError(t, err)
		require.NotContains(t, string(status), "b-team-secret-8d1f", a.name)
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "alice-own"}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-admin"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "planted"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "planted"}},
		&workv1.ManifestWork{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: "sneaky"}},
	} {
		err := f.hub.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		require.True(t, apierrors.IsNotFound(err), "%T %s must not exist: %v", obj, client.ObjectKeyFromObject(obj), err)
	}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKeyFromObject(shared), shared))
	require.Equal(t, map[string]string{"owner": "team-b"}, shared.Data, "team-b's ConfigMap is not taken over")
	require.Empty(t, shared.Labels[v1beta1.LabelAppName])

	// On the managed cluster the executor may edit team-a only: cluster-admin and a Secret in
	// kube-system are refused by the work agent.
	_, err = f.createAppAs(alice, `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: edge-escalate, namespace: team-a}
spec:
  components:
    - name: edge-escalate
      type: k8s-objects
      properties:
        objects:
          - apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRoleBinding
            metadata: {name: alice-admin}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
            subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
          - {apiVersion: v1, kind: Secret, metadata: {name: planted, namespace: kube-system}, stringData: {k: v}}
  policies:
    - {name: edge, type: topology, properties: {clusters: [edge]}}
`)
	require.NoError(t, err)
	var work workv1.ManifestWorkList
	refused := func() bool {
		if f.hub.List(ctx, &work, client.InNamespace("edge"), client.MatchingLabels{v1beta1.LabelAppName: "edge-escalate"}) != nil || len(work.Items) == 0 {
			return false
		}
		w := work.Items[0]
		return w.Spec.Executor != nil && len(w.Status.ResourceStatus.Manifests) == 2 &&
			!strings.Contains(fmt.Sprint(w.Status.ResourceStatus.Manifests), "AppliedManifestComplete")
	}
	for deadline := time.Now().Add(60 * time.Second); !refused(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			app := &v1beta1.Application{}
			_ = f.hub.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "edge-escalate"}, app)
			out, _ := yaml.Marshal(map[string]any{"works": work.Items, "app": app.Status})
			t.Fatalf("the work agent did not refuse both objects:\n%s", out)
		}
	}
	app := f.waitApp("team-a", "edge-escalate", "the refusal in its status", func(a *v1beta1.Application) bool {
		return strings.Contains(stepMessages(a), "not allowed to apply")
	})
	require.Contains(t, stepMessages(app), "ClusterRoleBinding alice-admin is not applied on cluster edge")
	w := work.Items[0]
	require.Equal(t, workv1.ManifestWorkSubjectServiceAccount{Namespace: "team-a", Name: install.DefaultExecutor}, *w.Spec.Executor.Subject.ServiceAccount)
	edge := f.spokes["edge"]
	require.True(t, apierrors.IsNotFound(edge.Get(ctx, client.ObjectKey{Name: "alice-admin"}, &rbacv1.ClusterRoleBinding{})))
	require.True(t, apierrors.IsNotFound(edge.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "planted"}, &corev1.Secret{})))

	// A cluster may name its own executor: the works for it follow.
	mc := &clusterv1.ManagedCluster{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Name: "edge"}, mc))
	mc.Annotations = map[string]string{controller.AnnotationExecutor: "edge-deployer"}
	require.NoError(t, f.hub.Update(ctx, mc))
	require.Eventually(t, func() bool {
		if f.hub.List(ctx, &work, client.InNamespace("edge"), client.MatchingLabels{v1beta1.LabelAppName: "edge-shop"}) != nil || len(work.Items) == 0 {
			return false
		}
		e := work.Items[0].Spec.Executor
		return e != nil && e.Subject.ServiceAccount != nil && *e.Subject.ServiceAccount == workv1.ManifestWorkSubjectServiceAccount{Namespace: "team-a", Name: "edge-deployer"}
	}, 60*time.Second, 200*time.Millisecond, "the cluster's executor")
}

// TestIdentityIsRecordedAtAdmission: nobody can write an Application that acts as someone
// else — not by setting the identity annotations, not by naming a ServiceAccount they may not
// impersonate — and a metadata-only write keeps the identity recorded.
func TestIdentityIsRecordedAtAdmission(t *testing.T) {
	f := startFleet(t)
	ctx := context.Background()
	alice := f.tenant("alice", "team-a", "tenant")
	// carol may write Applications in team-a, nothing else.
	carol := f.tenant("carol", "team-a", "")
	app := func(name, annotations string) string {
		return fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: %s, namespace: team-a, annotations: {%s}}
spec:
  components:
    - {name: %s, type: k8s-objects, properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: %s}}]}}
`, name, annotations, name, name)
	}
	_, err := f.createAppAs(alice, app("spoof", `app.oam.dev/username: admin`))
	require.ErrorContains(t, err, `annotation app.oam.dev/username says "admin", but "alice" is writing this Application`)
	_, err = f.createAppAs(alice, app("spoof-group", `app.oam.dev/group: system:masters`))
	require.ErrorContains(t, err, `annotation app.oam.dev/group says "system:masters"`)
	_, err = f.createAppAs(carol, app("as-deployer", `app.oam.dev/service-account-name: deployer`))
	require.ErrorContains(t, err, `names ServiceAccount team-a/deployer, but "carol" may not impersonate it`)

	// alice (a tenant of team-a) may act as team-a's ServiceAccounts: the app then acts as it.
	_, err = f.createAppAs(alice, app("as-deployer", `app.oam.dev/service-account-name: deployer`))
	require.NoError(t, err)
	got := f.waitApp("team-a", "as-deployer", "a refusal naming the ServiceAccount", func(a *v1beta1.Application) bool {
		return strings.Contains(stepMessages(a), "forbidden")
	})
	require.Contains(t, stepMessages(got), `User "system:serviceaccount:team-a:deployer" cannot`)

	// Writing the recorded identity again as oneself passes; a metadata-only write by someone
	// else keeps it (removing it brings it back).
	_, err = f.createAppAs(alice, app("own", `app.oam.dev/username: alice`))
	require.NoError(t, err)
	own := f.waitApp("team-a", "own", "running", phase(v1beta1.ApplicationRunning))
	delete(own.Annotations, v1beta1.AnnotationUsername)
	own.Labels = map[string]string{"touched": "yes"}
	require.NoError(t, f.hub.Update(ctx, own))
	require.NoError(t, f.hub.Get(ctx, client.ObjectKeyFromObject(own), own))
	require.Equal(t, "alice", own.Annotations[v1beta1.AnnotationUsername])
	// A spec change records its writer.
	own.Spec.Components[0].Name = "own2"
	require.NoError(t, f.hub.Update(ctx, own))
	require.NoError(t, f.hub.Get(ctx, client.ObjectKeyFromObject(own), own))
	require.Equal(t, "admin", own.Annotations[v1beta1.AnnotationUsername])
}
