package identity

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// Identity is a Kubernetes user and its groups.
type Identity struct {
	User   string
	Groups []string
}

// IsZero reports whether no user is set.
func (i Identity) IsZero() bool { return i.User == "" }

// String names the identity for messages and keys, e.g. alice (groups: dev, system:authenticated).
func (i Identity) String() string {
	if len(i.Groups) == 0 {
		return i.User
	}
	return i.User + " (groups: " + strings.Join(i.Groups, ", ") + ")"
}

// ServiceAccount is the identity of a ServiceAccount, with the groups the API server gives it.
func ServiceAccount(namespace, name string) Identity {
	return Identity{User: "system:serviceaccount:" + namespace + ":" + name,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}}
}

// Of is the identity an Application acts as: the ServiceAccount it names (in its namespace),
// else its recorded writer; zero when nothing is recorded.
func Of(app metav1.Object) Identity {
	a := app.GetAnnotations()
	if sa := a[v1beta1.AnnotationServiceAccountName]; sa != "" {
		return ServiceAccount(app.GetNamespace(), sa)
	}
	return Identity{User: a[v1beta1.AnnotationUsername], Groups: SplitGroups(a[v1beta1.AnnotationGroup])}
}

// SplitGroups reads the comma-separated group annotation.
func SplitGroups(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// Recorded is what the annotations of a writer say: user and comma-joined groups.
func Recorded(user string, groups []string) (string, string) {
	return user, strings.Join(groups, ",")
}

// CheckRecord refuses annotations that name someone other than the writer: a request may leave
// the recorded identity as it was (old) or set it to its own user and groups, nothing else.
func CheckRecord(old, updated map[string]string, user string, groups []string) error {
	for _, key := range []string{v1beta1.AnnotationUsername, v1beta1.AnnotationGroup} {
		v, set := updated[key]
		if !set || v == old[key] {
			continue
		}
		switch key {
		case v1beta1.AnnotationUsername:
			if v != user {
				return fmt.Errorf("annotation %s says %q, but %q is writing this Application: Ferry records who writes an Application and acts as them; remove the annotation", key, v, user)
			}
		case v1beta1.AnnotationGroup:
			if !slices.Equal(SplitGroups(v), groups) {
				return fmt.Errorf("annotation %s says %q, but the writer %q is in groups %q: Ferry records the writer's groups; remove the annotation", key, v, user, strings.Join(groups, ","))
			}
		}
	}
	return nil
}
