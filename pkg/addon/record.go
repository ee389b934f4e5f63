package addon

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Record labels and the Secret type that marks an enable record.
const (
	LabelRecord = "addons.ferry.dev/record"
	RecordType  = corev1.SecretType("addons.ferry.dev/record")
	recordKey   = "record.json"
)

// RecordName is the Secret that records an enabled addon.
func RecordName(name string) string { return "addon-" + name + "-record" }

// Record is what enabling an addon leaves on the hub besides its Application and definitions:
// a Secret, since parameters may hold secrets.
type Record struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Registry string `json:"registry"`
	Source   string `json:"source"`
	// Parameters are the values the user gave (defaults are not stored, so an upgrade takes
	// the new version's defaults).
	Parameters map[string]any `json:"parameters,omitempty"`
	// Clusters and ClusterSelector are where the addon deploys (runtime-cluster addons).
	Clusters        []string          `json:"clusters,omitempty"`
	ClusterSelector map[string]string `json:"clusterSelector,omitempty"`
	// Dependencies are the addons this version depends on.
	Dependencies []string `json:"dependencies,omitempty"`
	// Definitions are the definitions it installed, as KIND/NAME.
	Definitions []string `json:"definitions,omitempty"`
	// Application is the addon's Application, "" when it has only definitions.
	Application string `json:"application,omitempty"`
	// AsDependency is true when only other addons asked for it.
	AsDependency bool      `json:"asDependency,omitempty"`
	EnabledAt    time.Time `json:"enabledAt"`
}

// Secret is the record as the Secret that stores it.
func (r *Record) Secret(namespace string) (*corev1.Secret, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: RecordName(r.Name), Namespace: namespace,
			Labels: map[string]string{LabelAddonName: r.Name, LabelAddonVersion: r.Version, LabelRecord: "true"}},
		Type: RecordType,
		Data: map[string][]byte{recordKey: data},
	}, nil
}

func recordFrom(s *corev1.Secret) (*Record, error) {
	r := &Record{}
	if err := json.Unmarshal(s.Data[recordKey], r); err != nil {
		return nil, fmt.Errorf("addon record %s/%s: %w", s.Namespace, s.Name, err)
	}
	return r, nil
}

// Records reads every enabled addon's record, sorted by name.
func Records(ctx context.Context, c client.Reader, namespace string) (map[string]*Record, error) {
	var list corev1.SecretList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{LabelRecord: "true"}); err != nil {
		return nil, fmt.Errorf("list enabled addons in %s: %w", namespace, err)
	}
	out := map[string]*Record{}
	for i := range list.Items {
		if list.Items[i].Type != RecordType {
			continue
		}
		r, err := recordFrom(&list.Items[i])
		if err != nil {
			return nil, err
		}
		out[r.Name] = r
	}
	return out, nil
}

// GetRecord reads one addon's record; nil when it is not enabled.
func GetRecord(ctx context.Context, c client.Reader, namespace, name string) (*Record, error) {
	s := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: RecordName(name)}, s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read addon record %s: %w", name, err)
	}
	return recordFrom(s)
}

func unionStrings(a, b []string) []string {
	set := map[string]bool{}
	for _, s := range append(append([]string(nil), a...), b...) {
		set[s] = true
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
