package appfile

import (
	"strings"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// clusterScoped lists the cluster-scoped kinds of Kubernetes' built-in APIs (group/Kind, core
// group empty). Objects of these kinds get no namespace. Custom resources are assumed to be
// namespaced offline; with a cluster the REST mapper decides.
var clusterScoped = map[string]bool{
	"/Namespace": true, "/Node": true, "/PersistentVolume": true, "/ComponentStatus": true,
	"rbac.authorization.k8s.io/ClusterRole": true, "rbac.authorization.k8s.io/ClusterRoleBinding": true,
	"apiextensions.k8s.io/CustomResourceDefinition": true, "apiregistration.k8s.io/APIService": true,
	"storage.k8s.io/StorageClass": true, "storage.k8s.io/CSIDriver": true, "storage.k8s.io/CSINode": true,
	"storage.k8s.io/VolumeAttachment": true, "scheduling.k8s.io/PriorityClass": true,
	"node.k8s.io/RuntimeClass": true, "networking.k8s.io/IngressClass": true,
	"admissionregistration.k8s.io/MutatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/ValidatingWebhookConfiguration": true,
	"admissionregistration.k8s.io/ValidatingAdmissionPolicy":      true,
	"certificates.k8s.io/CertificateSigningRequest":               true,
	"flowcontrol.apiserver.k8s.io/FlowSchema":                     true,
	"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration":     true,
	"core.oam.dev/ResourceTracker":                                true,
	"cluster.open-cluster-management.io/ManagedCluster":           true,
}

// IsClusterScoped reports whether an object's kind is cluster-scoped.
func IsClusterScoped(obj map[string]any) bool {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	group := ""
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	return clusterScoped[group+"/"+kind]
}

// ownObject puts an object in namespace unless it names its own (none for a cluster-scoped
// one) and labels it with the Application; it returns the labels, to add more.
func (r *run) ownObject(obj, meta map[string]any, namespace string) map[string]any {
	if IsClusterScoped(obj) {
		delete(meta, "namespace")
	} else if ns, _ := meta["namespace"].(string); ns == "" {
		meta["namespace"] = namespace
	}
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		meta["labels"] = labels
	}
	labels[v1beta1.LabelAppName] = r.app.Name
	labels[v1beta1.LabelAppNamespace] = r.namespace
	return labels
}

// finishObject sets the target namespace (unless the object names its own), the name of a
// component's object that has none, and the labels that record which Application, component
// and trait own the object.
func (r *run) finishObject(m *Manifest, c *component, t target) {
	meta, _ := m.Object["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m.Object["metadata"] = meta
	}
	// A component's object without a name is named after the component, as KubeVela does:
	// templates and k8s-objects often leave the workload's name out.
	if m.Trait == "" {
		name, _ := meta["name"].(string)
		generateName, _ := meta["generateName"].(string)
		if name == "" && generateName == "" {
			meta["name"] = c.name
		}
	}
	labels := r.ownObject(m.Object, meta, t.namespace)
	labels[v1beta1.LabelAppComponent] = c.name
	if m.Trait == "" {
		labels[v1beta1.LabelWorkloadType] = definitionName(c.typ)
	} else {
		labels[v1beta1.LabelTraitType] = definitionName(m.Trait)
		labels[v1beta1.LabelTraitResource] = m.Output
	}
}
