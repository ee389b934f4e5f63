package controller

import (
	"context"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/definition"
)

// DefinitionSource resolves type names from definition CRs: the Application's namespace
// first, then the system namespace. Converted definitions are kept per object UID and
// resourceVersion, so an unchanged definition is converted (and its template compiled) once.
type DefinitionSource struct {
	reader          client.Reader
	systemNamespace string

	mu    sync.Mutex
	cache map[string]*definition.Definition
}

// NewDefinitionSource reads definitions through reader.
func NewDefinitionSource(reader client.Reader, systemNamespace string) *DefinitionSource {
	return &DefinitionSource{reader: reader, systemNamespace: systemNamespace, cache: map[string]*definition.Definition{}}
}

// ForNamespace returns the resolver for Applications in namespace; it implements
// appfile.Definitions.
func (c *DefinitionSource) ForNamespace(ctx context.Context, namespace string) *NamespaceDefinitions {
	return &NamespaceDefinitions{c: c, ctx: ctx, namespace: namespace}
}

// NamespaceDefinitions resolves the definitions an Application in one namespace sees.
type NamespaceDefinitions struct {
	c         *DefinitionSource
	ctx       context.Context
	namespace string
}

// Get implements appfile.Definitions.
func (n *NamespaceDefinitions) Get(kind definition.Kind, name string) (*definition.Definition, error) {
	namespaces := []string{n.namespace}
	if n.c.systemNamespace != n.namespace {
		namespaces = append(namespaces, n.c.systemNamespace)
	}
	for _, ns := range namespaces {
		obj := newDefinitionObject(kind)
		err := n.c.reader.Get(n.ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s definition %q: %w", kind, name, err)
		}
		return n.c.convert(kind, obj)
	}
	known, err := n.names(kind, namespaces)
	if err != nil {
		return nil, err
	}
	return nil, &definition.NotFoundError{Kind: kind, Name: name, Known: known}
}

func (n *NamespaceDefinitions) names(kind definition.Kind, namespaces []string) ([]string, error) {
	var names []string
	for _, ns := range namespaces {
		objs, err := listDefinitions(n.ctx, n.c.reader, kind, ns)
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

func (c *DefinitionSource) convert(kind definition.Kind, obj client.Object) (*definition.Definition, error) {
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
		d, err = definition.FromComponentDefinition(o)
	case *v1beta1.TraitDefinition:
		d, err = definition.FromTraitDefinition(o)
	case *v1beta1.PolicyDefinition:
		d, err = definition.FromPolicyDefinition(o)
	case *v1beta1.WorkflowStepDefinition:
		d, err = definition.FromWorkflowStepDefinition(o)
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

func newDefinitionObject(kind definition.Kind) client.Object {
	switch kind {
	case definition.KindComponent:
		return &v1beta1.ComponentDefinition{}
	case definition.KindTrait:
		return &v1beta1.TraitDefinition{}
	case definition.KindPolicy:
		return &v1beta1.PolicyDefinition{}
	default:
		return &v1beta1.WorkflowStepDefinition{}
	}
}

func listDefinitions(ctx context.Context, r client.Reader, kind definition.Kind, namespace string) ([]client.Object, error) {
	var out []client.Object
	switch kind {
	case definition.KindComponent:
		var l v1beta1.ComponentDefinitionList
		if err := r.List(ctx, &l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case definition.KindTrait:
		var l v1beta1.TraitDefinitionList
		if err := r.List(ctx, &l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case definition.KindPolicy:
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
