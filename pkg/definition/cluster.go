package definition

import (
	"context"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// ClusterSource resolves type names from definition CRs: the Application's namespace first,
// then the system namespace. Converted definitions are kept per object UID and
// resourceVersion, so an unchanged definition is converted (and its template compiled) once.
// It is the cluster-backed definition source of the planner.
type ClusterSource struct {
	reader          client.Reader
	systemNamespace string

	mu    sync.Mutex
	cache map[string]*Definition
}

// NewClusterSource reads definitions through reader (a cache or the API server).
func NewClusterSource(reader client.Reader, systemNamespace string) *ClusterSource {
	return &ClusterSource{reader: reader, systemNamespace: systemNamespace, cache: map[string]*Definition{}}
}

// Definition resolves a type name for an Application in namespace.
func (c *ClusterSource) Definition(ctx context.Context, namespace string, kind Kind, name string) (*Definition, error) {
	namespaces := []string{namespace}
	if c.systemNamespace != namespace {
		namespaces = append(namespaces, c.systemNamespace)
	}
	for _, ns := range namespaces {
		obj := NewObject(kind)
		err := c.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s definition %q: %w", kind, name, err)
		}
		return c.convert(kind, obj)
	}
	known, err := c.names(ctx, kind, namespaces)
	if err != nil {
		return nil, err
	}
	return nil, &NotFoundError{Kind: kind, Name: name, Known: known}
}

func (c *ClusterSource) names(ctx context.Context, kind Kind, namespaces []string) ([]string, error) {
	var names []string
	for _, ns := range namespaces {
		objs, err := listDefinitions(ctx, c.reader, kind, ns)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			names = append(names, o.GetName())
		}
	}
	sort.Strings(names)
	return names, nil
}

func (c *ClusterSource) convert(kind Kind, obj client.Object) (*Definition, error) {
	key := string(obj.GetUID()) + "@" + obj.GetResourceVersion()
	c.mu.Lock()
	d, ok := c.cache[key]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	var err error
	switch o := obj.(type) {
	case *v1beta1.ComponentDefinition:
		d, err = FromComponentDefinition(o)
	case *v1beta1.TraitDefinition:
		d, err = FromTraitDefinition(o)
	case *v1beta1.PolicyDefinition:
		d, err = FromPolicyDefinition(o)
	case *v1beta1.WorkflowStepDefinition:
		d, err = FromWorkflowStepDefinition(o)
	}
	if err != nil {
		return nil, err
	}
	d.Filename = fmt.Sprintf("%s/%s", obj.GetNamespace(), obj.GetName())
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) > 4096 {
		clear(c.cache) // definitions changed many times: start again rather than grow
	}
	c.cache[key] = d
	return d, nil
}

// NewObject returns an empty definition CR of a kind.
func NewObject(kind Kind) client.Object {
	switch kind {
	case KindComponent:
		return &v1beta1.ComponentDefinition{}
	case KindTrait:
		return &v1beta1.TraitDefinition{}
	case KindPolicy:
		return &v1beta1.PolicyDefinition{}
	default:
		return &v1beta1.WorkflowStepDefinition{}
	}
}

func listDefinitions(ctx context.Context, r client.Reader, kind Kind, namespace string) ([]client.Object, error) {
	var out []client.Object
	switch kind {
	case KindComponent:
		var l v1beta1.ComponentDefinitionList
		if err := r.List(ctx, &l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case KindTrait:
		var l v1beta1.TraitDefinitionList
		if err := r.List(ctx, &l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case KindPolicy:
		var l v1beta1.PolicyDefinitionList
		if err := r.List(ctx, &l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	default:
		var l v1beta1.WorkflowStepDefinitionList
		if err := r.List(ctx, &l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	}
	return out, nil
}

// ListObjects lists the definition CRs of a kind in a namespace ("" for every namespace).
func ListObjects(ctx context.Context, r client.Reader, kind Kind, namespace string) ([]client.Object, error) {
	return listDefinitions(ctx, r, kind, namespace)
}
