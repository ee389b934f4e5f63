package dispatch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
)

// FieldManager is the server-side-apply field manager work agents use for Ferry's objects; OCM
// requires it to start with "work-agent".
const FieldManager = "work-agent-ferry"

// LabelCluster names the cluster a ManifestWork is for.
const LabelCluster = "app.oam.dev/cluster"

// LabelStep names the deploy step a ManifestWork is for.
const LabelStep = "app.oam.dev/step"

// defaultMaxBytes keeps each ManifestWork well below the 500 KB admission limit.
const defaultMaxBytes = 450 * 1024

// ObjectPolicy is how policies treat one object.
type ObjectPolicy struct {
	// Orphan leaves the object on the cluster when the ManifestWork is deleted.
	Orphan bool
	// CreateOnly creates the object and never updates it (apply-once).
	CreateOnly bool
	// ReadOnly only checks that the object exists and reports its status (read-only).
	ReadOnly bool
}

// WorkOptions say what goes into the ManifestWorks of one Application on one cluster.
type WorkOptions struct {
	App, AppNamespace, Cluster string
	// Step is the deploy step the works are for; each step has its own works, so steps that
	// deploy different components to one cluster do not replace each other's.
	Step      string
	Manifests []appfile.Manifest
	// Policy returns the policy of a manifest; none when nil.
	Policy func(appfile.Manifest) ObjectPolicy
	// HealthPolicy returns the healthPolicy that judges a manifest, so its fields are fed back;
	// none when nil.
	HealthPolicy func(appfile.Manifest) string
	// MaxBytes bounds the manifests of one ManifestWork; 450 KiB when zero.
	MaxBytes int
	// Executor, when set, is the ServiceAccount in AppNamespace on the managed cluster that the
	// work agent checks the objects against before it applies them (spec.executor): the app
	// may do there only what that ServiceAccount may.
	Executor string
}

// WorkName is the name of the index-th ManifestWork of an Application's deploy step: stable, a
// DNS label, and unique per (app, namespace, step). The default step adds nothing to the name.
func WorkName(app, appNamespace, step string, index int) string {
	base := fmt.Sprintf("%s-%s", app, appNamespace)
	key := app + "/" + appNamespace
	if step != "" && step != appfile.DefaultStepName {
		base += "-" + step
		key += "/" + step
	}
	if len(base) > 50 {
		sum := sha256.Sum256([]byte(key))
		base = base[:40] + "-" + hex.EncodeToString(sum[:])[:8]
	}
	if index == 0 {
		return base
	}
	return fmt.Sprintf("%s-%d", base, index)
}

// BuildManifestWorks builds the ManifestWorks of one Application for one cluster, in order.
func BuildManifestWorks(o WorkOptions) ([]*workv1.ManifestWork, error) {
	maxBytes := o.MaxBytes
	if maxBytes == 0 {
		maxBytes = defaultMaxBytes
	}
	var works []*workv1.ManifestWork
	var current *workv1.ManifestWork
	size := 0
	for _, m := range o.Manifests {
		raw, err := json.Marshal(m.Object)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", describe(m), err)
		}
		if len(raw) > maxBytes {
			return nil, fmt.Errorf("%s is %d bytes, more than a ManifestWork can hold (%d)", describe(m), len(raw), maxBytes)
		}
		if current == nil || size+len(raw) > maxBytes {
			current = newWork(o, len(works))
			works = append(works, current)
			size = 0
		}
		size += len(raw)
		current.Spec.Workload.Manifests = append(current.Spec.Workload.Manifests, workv1.Manifest{RawExtension: runtime.RawExtension{Raw: raw}})
		var policy ObjectPolicy
		if o.Policy != nil {
			policy = o.Policy(m)
		}
		id := identifier(m.Object)
		config := workv1.ManifestConfigOption{ResourceIdentifier: id, FeedbackRules: feedbackRules(m, o.HealthPolicy)}
		if len(config.FeedbackRules) > 0 {
			config.FeedbackScrapeType = workv1.FeedbackWatchType // health without the poll delay
		}
		switch {
		case policy.ReadOnly:
			config.UpdateStrategy = &workv1.UpdateStrategy{Type: workv1.UpdateStrategyTypeReadOnly}
		case policy.CreateOnly:
			config.UpdateStrategy = &workv1.UpdateStrategy{Type: workv1.UpdateStrategyTypeCreateOnly}
		default:
			// Force: fields Ferry renders are Ferry's, as on the hub; without it a hand edit by
			// another field manager is an apply conflict that stays forever.
			config.UpdateStrategy = &workv1.UpdateStrategy{Type: workv1.UpdateStrategyTypeServerSideApply,
				ServerSideApply: &workv1.ServerSideApplyConfig{FieldManager: FieldManager, Force: true}}
		}
		current.Spec.ManifestConfigs = append(current.Spec.ManifestConfigs, config)
		if policy.Orphan || policy.ReadOnly {
			current.Spec.DeleteOption.PropagationPolicy = workv1.DeletePropagationPolicyTypeSelectivelyOrphan
			if current.Spec.DeleteOption.SelectivelyOrphan == nil {
				current.Spec.DeleteOption.SelectivelyOrphan = &workv1.SelectivelyOrphan{}
			}
			rules := &current.Spec.DeleteOption.SelectivelyOrphan.OrphaningRules
			*rules = append(*rules, workv1.OrphaningRule(id))
		}
	}
	return works, nil
}

func newWork(o WorkOptions, index int) *workv1.ManifestWork {
	w := &workv1.ManifestWork{
		TypeMeta: metav1.TypeMeta{APIVersion: workv1.GroupVersion.String(), Kind: "ManifestWork"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      WorkName(o.App, o.AppNamespace, o.Step, index),
			Namespace: o.Cluster,
			Labels: map[string]string{
				v1beta1.LabelAppName:      o.App,
				v1beta1.LabelAppNamespace: o.AppNamespace,
				LabelCluster:              o.Cluster,
			},
		},
		Spec: workv1.ManifestWorkSpec{
			DeleteOption: &workv1.DeleteOption{PropagationPolicy: workv1.DeletePropagationPolicyTypeForeground},
		},
	}
	if o.Step != "" {
		w.Labels[LabelStep] = o.Step
	}
	if o.Executor != "" {
		w.Spec.Executor = &workv1.ManifestWorkExecutor{Subject: workv1.ManifestWorkExecutorSubject{
			Type:           workv1.ExecutorSubjectTypeServiceAccount,
			ServiceAccount: &workv1.ManifestWorkSubjectServiceAccount{Namespace: o.AppNamespace, Name: o.Executor}}}
	}
	return w
}

// IsDeliveryWork reports whether a tracked object is a ManifestWork Ferry made to deliver app
// to a managed cluster (named by WorkName), not one the app renders on the hub.
func IsDeliveryWork(app AppRef, r v1beta1.ManagedResource) bool {
	if r.Kind != "ManifestWork" || r.Component != "" || r.Trait != "" || r.APIVersion != workv1.GroupVersion.String() {
		return false
	}
	base := WorkName(app.Name, app.Namespace, "", 0)
	if len(base) > 40 {
		base = base[:40]
	}
	return strings.HasPrefix(r.Name, base)
}

// identifier is how ManifestWork configuration names an object: group, plural resource, name,
// namespace.
func identifier(obj map[string]any) workv1.ResourceIdentifier {
	group, resource := appfile.GroupResource(obj)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	return workv1.ResourceIdentifier{Group: group, Resource: resource, Name: name, Namespace: ns}
}

func describe(m appfile.Manifest) string {
	kind, _ := m.Object["kind"].(string)
	meta, _ := m.Object["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	s := fmt.Sprintf("%s %s of component %q", kind, name, m.Component)
	if m.Trait != "" {
		s += fmt.Sprintf(" (trait %q)", m.Trait)
	}
	return strings.TrimSpace(s)
}
