// Package install builds and applies what installs Ferry on a hub cluster: its CRDs, the
// built-in definitions and, optionally, the controller's RBAC and Deployment.
package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/config"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

// FieldManager is the server-side-apply field manager of installed objects.
const FieldManager = "ferry-install"

// DefaultNamespace is where the controller and the built-in definitions live.
const DefaultNamespace = "ferry-system"

// Options say what to install.
type Options struct {
	// Namespace holds the controller and the built-in definitions (DefaultNamespace when empty).
	Namespace string
	// Controller adds the controller's RBAC and Deployment; without it only CRDs and
	// definitions are installed (e.g. for a controller run outside the cluster).
	Controller bool
	// Image overrides the controller image.
	Image string
	// WebhookURL, for a controller run outside the cluster (Controller false), registers the
	// admission webhook at this https://HOST:PORT, where `ferry-controller --webhook-host HOST
	// --webhook-port PORT` serves it, and installs the controller's ServiceAccount and RBAC
	// for it to run as.
	WebhookURL string
	// SingleTenant installs for a controller run with --impersonate=false: every Application
	// acts with the controller's identity, which gets the rights to write what apps deploy
	// (ClusterRole SingleTenantRole). Without it the controller acts as each app's writer and
	// writes nothing of theirs with its own identity.
	SingleTenant bool
}

// DefaultExecutor is the ServiceAccount that ManifestWorks name as their executor, in the app's
// namespace on each managed cluster, unless the controller is told otherwise.
const DefaultExecutor = "ferry-tenant"

// SingleTenantRole is the ClusterRole (and binding) a single-tenant install adds.
const SingleTenantRole = "ferry-controller-single-tenant"

// Objects returns what to apply, in order: namespace, CRDs, definitions, then the controller.
func Objects(o Options) ([]*unstructured.Unstructured, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": o.Namespace}}}
	out := []*unstructured.Unstructured{ns}
	crds, err := readDir("crd")
	if err != nil {
		return nil, err
	}
	out = append(out, crds...)
	defs, err := Definitions(o.Namespace)
	if err != nil {
		return nil, err
	}
	out = append(out, defs...)
	if o.Controller || o.WebhookURL != "" {
		ctl, err := readDir("controller")
		if err != nil {
			return nil, err
		}
		if !o.SingleTenant {
			ctl = slices.DeleteFunc(ctl, func(obj *unstructured.Unstructured) bool { return obj.GetName() == SingleTenantRole })
		}
		if !o.Controller {
			// A controller outside the cluster gets its identity and rights (run it with a
			// token of ServiceAccount ferry-controller), not the Deployment and Service.
			ctl = slices.DeleteFunc(ctl, func(obj *unstructured.Unstructured) bool {
				return obj.GetKind() == "Deployment" || obj.GetKind() == "Service"
			})
		}
		for _, obj := range ctl {
			if obj.GetNamespace() != "" {
				obj.SetNamespace(o.Namespace)
			}
			if obj.GetKind() == "ClusterRoleBinding" || obj.GetKind() == "RoleBinding" {
				subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
				for _, s := range subjects {
					s.(map[string]any)["namespace"] = o.Namespace
				}
				_ = unstructured.SetNestedSlice(obj.Object, subjects, "subjects")
			}
			if obj.GetKind() == "Deployment" && o.SingleTenant {
				containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
				args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
				containers[0].(map[string]any)["args"] = toAny(append(args, "--impersonate=false"))
				_ = unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
			}
			if obj.GetKind() == "Deployment" && o.Image != "" {
				containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
				containers[0].(map[string]any)["image"] = o.Image
				_ = unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
			}
		}
		out = append(out, ctl...)
	}
	if o.Controller || o.WebhookURL != "" {
		hooks, err := WebhookConfigurations(o)
		if err != nil {
			return nil, err
		}
		out = append(out, hooks...)
	}
	return out, nil
}

// WebhookConfigurations are the admission webhooks `ferry install` applies, calling the
// controller's Service in the namespace or, for a controller outside the cluster (Controller
// false), WebhookURL. The controller recreates them from here when they were deleted.
func WebhookConfigurations(o Options) ([]*unstructured.Unstructured, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	var base *url.URL
	if !o.Controller {
		u, err := url.Parse(o.WebhookURL)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("webhook URL %q: want https://HOST:PORT, where ferry-controller --webhook-host HOST --webhook-port PORT serves", o.WebhookURL)
		}
		base = u
	}
	hooks, err := readDir("webhook")
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		webhooks, _, _ := unstructured.NestedSlice(h.Object, "webhooks")
		for _, w := range webhooks {
			cc, _, _ := unstructured.NestedMap(w.(map[string]any), "clientConfig")
			if base == nil {
				_ = unstructured.SetNestedField(cc, o.Namespace, "service", "namespace")
			} else {
				path, _, _ := unstructured.NestedString(cc, "service", "path")
				cc = map[string]any{"url": base.Scheme + "://" + base.Host + path}
			}
			w.(map[string]any)["clientConfig"] = cc
			// The controller's ServiceAccount lives in the install namespace.
			conditions, _, _ := unstructured.NestedSlice(w.(map[string]any), "matchConditions")
			for _, c := range conditions {
				if expr, ok := c.(map[string]any)["expression"].(string); ok {
					c.(map[string]any)["expression"] = strings.ReplaceAll(expr, "system:serviceaccount:"+DefaultNamespace+":",
						"system:serviceaccount:"+o.Namespace+":")
				}
			}
			if conditions != nil {
				_ = unstructured.SetNestedSlice(w.(map[string]any), conditions, "matchConditions")
			}
		}
		_ = unstructured.SetNestedSlice(h.Object, webhooks, "webhooks")
	}
	return hooks, nil
}

// Definitions returns the built-in definitions as CRs in namespace.
func Definitions(namespace string) ([]*unstructured.Unstructured, error) {
	reg, err := definition.Builtin()
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, kind := range []definition.Kind{definition.KindComponent, definition.KindTrait, definition.KindPolicy, definition.KindWorkflowStep} {
		for _, d := range reg.List(kind) {
			u, err := dispatch.ToUnstructured(d.CR())
			if err != nil {
				return nil, err
			}
			u.SetNamespace(namespace)
			out = append(out, u)
		}
	}
	return out, nil
}

func readDir(dir string) ([]*unstructured.Unstructured, error) {
	entries, err := fs.ReadDir(config.FS, dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []*unstructured.Unstructured
	for _, name := range names {
		data, err := fs.ReadFile(config.FS, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		objs, err := Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", dir, name, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// Decode reads a multi-document YAML stream of objects.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// Apply applies objects in order with server-side apply. It waits for each CRD to be served
// before applying objects of later kinds.
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		obj = obj.DeepCopy()
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			err := c.Patch(ctx, obj, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership)
			if err != nil && isNotServedYet(err) {
				return false, nil // a CRD applied just before is not served yet
			}
			return err == nil, err
		})
		if err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

func isNotServedYet(err error) bool {
	return apierrors.IsNotFound(err) || isNoMatch(err)
}

func isNoMatch(err error) bool { return meta.IsNoMatchError(err) }

// Uninstall removes the controller and the built-in definitions, and the CRDs when no
// Application is left: deleting the CRDs would delete Applications without the controller
// cleaning up what they own.
func Uninstall(ctx context.Context, c client.Client, o Options) error {
	var apps v1beta1.ApplicationList
	if err := c.List(ctx, &apps); err != nil && !isNoMatch(err) {
		return fmt.Errorf("list applications: %w", err)
	}
	if n := len(apps.Items); n > 0 {
		return fmt.Errorf("%d Application(s) still exist, e.g. %s/%s: delete them first (ferry delete), so that what they deployed is removed",
			n, apps.Items[0].Namespace, apps.Items[0].Name)
	}
	o.Controller = true
	objs, err := Objects(o)
	if err != nil {
		return err
	}
	for i := len(objs) - 1; i >= 1; i-- { // keep the namespace: others may use it
		if err := c.Delete(ctx, objs[i]); err != nil && !apierrors.IsNotFound(err) && !isNoMatch(err) {
			return fmt.Errorf("delete %s %s: %w", objs[i].GetKind(), objs[i].GetName(), err)
		}
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
