package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
)

// HubFieldManager is the server-side-apply field manager of objects Ferry applies to the hub.
const HubFieldManager = "ferry"

// HubOptions configure a Hub.
type HubOptions struct {
	// Client reads (usually from a cache of objects carrying the app labels) and writes.
	Client client.Client
	// APIReader reads from the API server: objects nobody labelled are not in the cache.
	APIReader client.Reader
	// FieldManager is the server-side-apply field manager; HubFieldManager when empty.
	FieldManager string
	// Scheme, when set, makes reads of kinds it knows go through typed objects: a cache of
	// typed objects takes a fraction of the memory of unstructured ones.
	Scheme *runtime.Scheme
	// Cacheable, when set, says whether a kind may be read through Client's cache. A cache
	// of a kind the caller may not list and watch never syncs, and a read from it waits
	// forever: such kinds are read from APIReader.
	Cacheable func(ctx context.Context, gvk schema.GroupVersionKind) bool
	// Writer creates, changes and deletes objects; Client when nil. A Hub acting as an
	// Application's identity (As) writes through a client that impersonates it.
	Writer client.Client
}

// Hub applies objects to the hub cluster ("local") and collects them, never touching an
// object another Application or a person owns unless a policy allows it.
type Hub struct {
	opts HubOptions
}

// NewHub returns a Hub.
func NewHub(opts HubOptions) *Hub {
	if opts.FieldManager == "" {
		opts.FieldManager = HubFieldManager
	}
	if opts.APIReader == nil {
		opts.APIReader = opts.Client
	}
	if opts.Writer == nil {
		opts.Writer = opts.Client
	}
	return &Hub{opts: opts}
}

// As returns a Hub that writes, and reads what is not in the cache, through c: a client that
// impersonates an Application's identity, so that the API server's RBAC decides what the app
// may change. Reads of cached kinds stay with the cache; they only decide what to write.
func (h *Hub) As(c client.Client) *Hub {
	opts := h.opts
	opts.Writer, opts.APIReader = c, c
	return &Hub{opts: opts}
}

// ConflictError says an object exists and belongs to someone else.
type ConflictError struct {
	Object string
	Reason string
}

func (e *ConflictError) Error() string { return e.Object + ": " + e.Reason }

// ApplyResult says what Apply did.
type ApplyResult string

// Apply results.
const (
	Created   ApplyResult = "created"
	Updated   ApplyResult = "updated"
	Unchanged ApplyResult = "unchanged"
	// Recreating: a recreate field changed, the object is being deleted to be created again.
	Recreating ApplyResult = "recreating"
	// Sharing: another Application owns the object; this one shares it.
	Sharing ApplyResult = "sharing"
	// ReadOnly: a read-only policy selects the object; it exists and is left alone.
	ReadOnly ApplyResult = "read-only"
	// AppliedOnce: an apply-once policy selects the object; it exists and is left alone.
	AppliedOnce ApplyResult = "applied-once"
)

// Normalize turns a rendered object into one the hub accepts: cluster-scoped kinds lose their
// namespace. A kind the hub does not serve is an error that names it.
func (h *Hub) Normalize(obj map[string]any) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{Object: obj}
	gvk := u.GroupVersionKind()
	mapping, err := h.opts.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("%s %q: the hub cluster does not serve kind %s in %s; install its CRD first", gvk.Kind, u.GetName(), gvk.Kind, gvk.GroupVersion())
		}
		return nil, fmt.Errorf("%s %q: find its resource: %w", gvk.Kind, u.GetName(), err)
	}
	if mapping.Scope.Name() == meta.RESTScopeNameRoot {
		u.SetNamespace("")
	}
	return u, nil
}

// Describe names an object for messages, e.g. Deployment default/web.
func Describe(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + " " + u.GetName()
	}
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// Get returns the object as the Client sees it, nil when it does not exist.
func (h *Hub) Get(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	return h.getCached(ctx, gvk, namespace, name)
}

// ResourceVersion returns an object's resourceVersion as the Client sees it, "" when it does
// not exist. It reads like Get but does not convert a typed object: checking that nothing
// changed costs a cache read, not a conversion.
func (h *Hub) ResourceVersion(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (string, error) {
	obj, err := h.read(ctx, gvk, namespace, name)
	if err != nil || obj == nil {
		return "", err
	}
	return obj.GetResourceVersion(), nil
}

// read reads through the Client, typed when the scheme knows the kind; nil when the object
// does not exist.
func (h *Hub) read(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (client.Object, error) {
	var obj client.Object
	var reader client.Reader = h.opts.Client
	switch {
	case h.opts.Cacheable != nil && !h.opts.Cacheable(ctx, gvk):
		reader = h.opts.APIReader
	case h.opts.Scheme != nil && h.opts.Scheme.Recognizes(gvk):
		if o, err := h.opts.Scheme.New(gvk); err == nil {
			obj, _ = o.(client.Object)
		}
	}
	if obj == nil {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		obj = u
	}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return obj, nil
}

// getCached reads through the Client, typed when the scheme knows the kind.
func (h *Hub) getCached(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	obj, err := h.read(ctx, gvk, namespace, name)
	if err != nil || obj == nil {
		return nil, err
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// NewObject returns an empty object of a kind, typed when the scheme knows it: what watches of
// that kind should use so that they share the typed cache.
func (h *Hub) NewObject(gvk schema.GroupVersionKind) client.Object {
	if h.opts.Scheme != nil && h.opts.Scheme.Recognizes(gvk) {
		if obj, err := h.opts.Scheme.New(gvk); err == nil {
			if typed, ok := obj.(client.Object); ok {
				return typed
			}
		}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

func get(ctx context.Context, r client.Reader, gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// live reads an object, first from the Client and then, when it seems missing, from the API:
// an object nobody labelled is not in a label-filtered cache.
func (h *Hub) live(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	live, err := h.getCached(ctx, u.GroupVersionKind(), u.GetNamespace(), u.GetName())
	if err != nil || live != nil {
		return live, err
	}
	return get(ctx, h.opts.APIReader, u.GroupVersionKind(), u.GetNamespace(), u.GetName())
}

// Change is what applying one object did (Apply) or would do (Preview).
type Change struct {
	Result ApplyResult
	// Live is the object before; nil when it does not exist.
	Live *unstructured.Unstructured
	// After is the object as the API server stores it (or would: a server-side dry run);
	// nil when nothing is written.
	After *unstructured.Unstructured
}

// Apply brings one object to its desired state for app, honouring its policy.
func (h *Hub) Apply(ctx context.Context, app AppRef, desired *unstructured.Unstructured, pol appfile.ObjectPolicy) (ApplyResult, error) {
	c, err := h.apply(ctx, app, desired, pol, false)
	return c.Result, err
}

// Preview says what Apply would do, changing nothing: the same results and conflicts, with
// every write sent as a server-side dry run, so defaults and admission are included.
func (h *Hub) Preview(ctx context.Context, app AppRef, desired *unstructured.Unstructured, pol appfile.ObjectPolicy) (Change, error) {
	return h.apply(ctx, app, desired, pol, true)
}

func (h *Hub) apply(ctx context.Context, app AppRef, desired *unstructured.Unstructured, pol appfile.ObjectPolicy, dryRun bool) (Change, error) {
	name := Describe(desired)
	live, err := h.live(ctx, desired)
	if err != nil {
		return Change{}, fmt.Errorf("read %s: %w", name, err)
	}
	change := Change{Live: live}
	var opts []client.PatchOption
	var updateOpts []client.UpdateOption
	if dryRun {
		opts, updateOpts = append(opts, client.DryRunAll), append(updateOpts, client.DryRunAll)
	}
	if pol.ReadOnly {
		if live == nil {
			return change, &ConflictError{Object: name, Reason: "a read-only policy selects it, and it does not exist"}
		}
		change.Result = ReadOnly
		return change, nil
	}
	desired = desired.DeepCopy()
	if live != nil {
		if res, done, err := h.checkOwner(ctx, app, desired, live, pol, opts); done || err != nil {
			change.Result = res
			return change, err
		}
		sharedBy := live.GetAnnotations()[v1beta1.AnnotationSharedBy]
		if pol.Shared || sharedBy != "" {
			setAnnotation(desired, v1beta1.AnnotationSharedBy, addSharer(sharedBy, app))
		}
		if pol.ApplyOnce {
			if len(pol.IgnorePaths) == 0 {
				change.Result = AppliedOnce
				return change, nil
			}
			keepLive(desired, live, pol.IgnorePaths)
		}
		if recreate(desired, live, pol.RecreateFields) {
			change.Result, change.After = Recreating, desired
			if dryRun {
				return change, nil
			}
			err := h.opts.Writer.Delete(ctx, live, client.Preconditions{UID: ptr(live.GetUID())}, client.PropagationPolicy(metav1.DeletePropagationBackground))
			if err != nil && !apierrors.IsNotFound(err) {
				return change, fmt.Errorf("delete %s to recreate it: %w", name, err)
			}
			return change, nil
		}
		if live.GetDeletionTimestamp() != nil {
			change.Result = Recreating
			return change, nil
		}
		if Contains(live.Object, desired.Object) {
			change.Result = Unchanged
			return change, nil
		}
	} else if pol.Shared {
		setAnnotation(desired, v1beta1.AnnotationSharedBy, app.String())
	}
	if pol.Replace && live != nil {
		desired.SetResourceVersion(live.GetResourceVersion())
		if err := h.opts.Writer.Update(ctx, desired, append(updateOpts, client.FieldOwner(h.opts.FieldManager))...); err != nil {
			return change, fmt.Errorf("replace %s: %w", name, err)
		}
		change.Result, change.After = Updated, desired
		return change, nil
	}
	if err := h.opts.Writer.Patch(ctx, desired, client.Apply, append(opts, client.FieldOwner(h.opts.FieldManager), client.ForceOwnership)...); err != nil {
		return change, fmt.Errorf("apply %s: %w", name, err)
	}
	change.Result, change.After = Updated, desired
	if live == nil {
		change.Result = Created
	}
	return change, nil
}

// checkOwner decides what to do with an object that exists: done is true when Apply is over.
func (h *Hub) checkOwner(ctx context.Context, app AppRef, desired, live *unstructured.Unstructured, pol appfile.ObjectPolicy, opts []client.PatchOption) (ApplyResult, bool, error) {
	labels := live.GetLabels()
	if app.ownedBy(labels) {
		return "", false, nil
	}
	name := Describe(desired)
	owner, owned := labels[v1beta1.LabelAppName]
	switch {
	case owned && pol.Shared:
		sharedBy := live.GetAnnotations()[v1beta1.AnnotationSharedBy]
		if slices.Contains(sharers(sharedBy), app.String()) {
			return Sharing, true, nil
		}
		joined := live.DeepCopy()
		setAnnotation(joined, v1beta1.AnnotationSharedBy, addSharer(sharedBy, app))
		if err := h.opts.Writer.Patch(ctx, joined, client.MergeFrom(live), opts...); err != nil {
			return "", true, fmt.Errorf("join the sharers of %s: %w", name, err)
		}
		return Sharing, true, nil
	case owned:
		return "", true, &ConflictError{Object: name, Reason: fmt.Sprintf("it belongs to Application %s/%s; Ferry leaves it alone (a shared-resource policy on both apps lets them share it)", labels[v1beta1.LabelAppNamespace], owner)}
	case !pol.TakeOver:
		return "", true, &ConflictError{Object: name, Reason: "it exists and no Application manages it; Ferry leaves it alone (a take-over policy adopts it)"}
	}
	return "", false, nil
}

// Collect lets go of one tracked object: deletes it, leaves it (orphan), or hands it to the
// next sharer. gone is true once the object no longer exists or no longer belongs to app; a
// deletion that is under way reports false, so callers ask again.
func (h *Hub) Collect(ctx context.Context, app AppRef, r v1beta1.ManagedResource) (gone bool, err error) {
	if r.Orphan {
		return true, nil
	}
	gvk := schema.FromAPIVersionAndKind(r.APIVersion, r.Kind)
	live, err := get(ctx, h.opts.APIReader, gvk, r.Namespace, r.Name)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return true, nil // its kind is gone, and so is the object
		}
		return false, fmt.Errorf("read %s %s/%s: %w", r.Kind, r.Namespace, r.Name, err)
	}
	if live == nil {
		return true, nil
	}
	name := Describe(live)
	sharedBy := live.GetAnnotations()[v1beta1.AnnotationSharedBy]
	others := slices.DeleteFunc(sharers(sharedBy), func(s string) bool { return s == app.String() })
	if !app.ownedBy(live.GetLabels()) {
		if sharedBy != "" && len(others) != len(sharers(sharedBy)) {
			patch := client.MergeFrom(live.DeepCopy())
			setAnnotation(live, v1beta1.AnnotationSharedBy, strings.Join(others, ","))
			if err := h.opts.Writer.Patch(ctx, live, patch); err != nil {
				return false, fmt.Errorf("leave the sharers of %s: %w", name, err)
			}
		}
		return true, nil // someone else's now: only untrack it
	}
	if len(others) > 0 {
		ns, next, _ := strings.Cut(others[0], "/")
		patch := client.MergeFrom(live.DeepCopy())
		labels := live.GetLabels()
		labels[v1beta1.LabelAppName], labels[v1beta1.LabelAppNamespace] = next, ns
		live.SetLabels(labels)
		setAnnotation(live, v1beta1.AnnotationSharedBy, strings.Join(others, ","))
		if err := h.opts.Writer.Patch(ctx, live, patch); err != nil {
			return false, fmt.Errorf("hand %s to Application %s: %w", name, others[0], err)
		}
		return true, nil
	}
	if live.GetDeletionTimestamp() != nil {
		return false, nil
	}
	err = h.opts.Writer.Delete(ctx, live, client.Preconditions{UID: ptr(live.GetUID())}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return false, fmt.Errorf("delete %s: %w", name, err)
	}
	return false, nil
}

// IsConflict reports whether err is (or wraps) a ConflictError.
func IsConflict(err error) bool {
	var c *ConflictError
	return errors.As(err, &c)
}

func sharers(annotation string) []string {
	if annotation == "" {
		return nil
	}
	return strings.Split(annotation, ",")
}

func addSharer(annotation string, app AppRef) string {
	list := sharers(annotation)
	if !slices.Contains(list, app.String()) {
		list = append(list, app.String())
	}
	return strings.Join(list, ",")
}

func setAnnotation(u *unstructured.Unstructured, key, value string) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	u.SetAnnotations(a)
}

// keepLive sets paths of desired to their live values, so applying leaves them as they are.
func keepLive(desired, live *unstructured.Unstructured, paths []string) {
	for _, p := range paths {
		path := fieldPath(p)
		v, found := lookup(live.Object, path)
		setOrDelete(desired.Object, path, v, found)
	}
}

// recreate reports whether one of fields differs between desired and live.
func recreate(desired, live *unstructured.Unstructured, fields []string) bool {
	for _, f := range fields {
		path := fieldPath(f)
		dv, dok := lookup(desired.Object, path)
		lv, lok := lookup(live.Object, path)
		if dok && (!lok || !Contains(lv, dv)) {
			return true
		}
	}
	return false
}

func ptr(uid types.UID) *types.UID { return &uid }
