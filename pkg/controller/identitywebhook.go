package controller

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"gomodules.xyz/jsonpatch/v2"

	admissionv1 "k8s.io/api/admission/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/identity"
)

// IdentityPath is where the API server sends Applications to record who writes them.
const IdentityPath = "/mutate-core-oam-dev-v1beta1-application"

// identityRecorder records, at admission, who creates an Application or changes its spec
// (app.oam.dev/username and app.oam.dev/group, KubeVela's keys): the controller acts as them.
// It refuses a request that sets those annotations to anyone but the requester, and an app
// that names a ServiceAccount (app.oam.dev/service-account-name) its writer may not
// impersonate. A write that changes neither the spec nor these annotations keeps the record
// (one that removes it gets it back).
type identityRecorder struct {
	decoder admission.Decoder
	// client asks the API server whether the writer may impersonate a ServiceAccount.
	client client.Client
}

func (m *identityRecorder) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	app, old := &v1beta1.Application{}, &v1beta1.Application{}
	if err := m.decoder.DecodeRaw(req.Object, app); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if req.Operation == admissionv1.Update {
		if err := m.decoder.DecodeRaw(req.OldObject, old); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
	}
	if !app.DeletionTimestamp.IsZero() {
		return admission.Allowed("")
	}
	user, groups := req.UserInfo.Username, req.UserInfo.Groups
	if err := identity.CheckRecord(old.Annotations, app.Annotations, user, groups); err != nil {
		return admission.Denied(err.Error())
	}
	specChanged := req.Operation == admissionv1.Create || !equality.Semantic.DeepEqual(old.Spec, app.Spec)
	// setsOwn: the request writes its own identity into the annotations (CheckRecord let it).
	setsOwn := false
	for _, k := range []string{v1beta1.AnnotationUsername, v1beta1.AnnotationGroup} {
		if v, ok := app.Annotations[k]; ok && v != old.Annotations[k] {
			setsOwn = true
		}
	}
	sa := app.Annotations[v1beta1.AnnotationServiceAccountName]
	if sa != "" && (specChanged || sa != old.Annotations[v1beta1.AnnotationServiceAccountName]) {
		if err := m.mayImpersonate(ctx, req, app.Namespace, sa); err != nil {
			return admission.Denied(err.Error())
		}
	}
	want := map[string]string{}
	if specChanged || setsOwn {
		want[v1beta1.AnnotationUsername], want[v1beta1.AnnotationGroup] = identity.Recorded(user, groups)
	} else {
		for _, k := range []string{v1beta1.AnnotationUsername, v1beta1.AnnotationGroup} {
			if v, ok := old.Annotations[k]; ok {
				want[k] = v
			}
		}
	}
	// Patch only the annotations: re-encoding the whole object could change what the
	// writer sent in ways they did not ask for.
	var patches []jsonpatch.JsonPatchOperation
	if app.Annotations == nil {
		patches = append(patches, jsonpatch.NewOperation("add", "/metadata/annotations", want))
	} else {
		for _, k := range []string{v1beta1.AnnotationUsername, v1beta1.AnnotationGroup} {
			v, ok := want[k]
			if !ok {
				continue
			}
			if cur, set := app.Annotations[k]; !set || cur != v {
				patches = append(patches, jsonpatch.NewOperation("add", "/metadata/annotations/"+strings.ReplaceAll(k, "/", "~1"), v))
			}
		}
	}
	if len(patches) == 0 {
		return admission.Allowed("")
	}
	return admission.Patched("", patches...)
}

// mayImpersonate asks the API server whether the requester may impersonate the ServiceAccount.
func (m *identityRecorder) mayImpersonate(ctx context.Context, req admission.Request, namespace, sa string) error {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range req.UserInfo.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: req.UserInfo.Username, Groups: req.UserInfo.Groups, UID: req.UserInfo.UID, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "impersonate",
			Resource: "serviceaccounts", Name: sa}}}
	if err := m.client.Create(ctx, review); err != nil {
		return fmt.Errorf("check whether %q may act as ServiceAccount %s/%s: %w", req.UserInfo.Username, namespace, sa, err)
	}
	if !review.Status.Allowed {
		return fmt.Errorf("annotation %s names ServiceAccount %s/%s, but %q may not impersonate it: an Application may act only as a ServiceAccount its writer may act as (grant impersonate on serviceaccounts %q in %s)",
			v1beta1.AnnotationServiceAccountName, namespace, sa, req.UserInfo.Username, sa, namespace)
	}
	return nil
}
