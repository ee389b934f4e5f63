package appfile

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResourcePoliciesSelectObjects(t *testing.T) {
	const app = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop, namespace: default}
spec:
  components:
    - name: db
      type: webservice
      properties: {image: postgres}
      traits:
        - type: expose
          properties: {port: [5432]}
    - name: web
      type: webservice
      properties: {image: nginx}
  policies:
    - name: keep
      type: garbage-collect
      properties:
        applicationRevisionLimit: 5
        keepLegacyResource: true
        rules:
          - selector: {componentNames: [db]}
            strategy: never
          - selector: {resourceTypes: [Service]}
            strategy: onAppDelete
            propagation: orphan
    - name: once
      type: apply-once
      properties:
        enable: true
        rules:
          - selector: {resourceTypes: [Deployment]}
            strategy: {path: [spec.replicas]}
    - name: shared
      type: shared-resource
      properties: {rules: [{selector: {oamTypes: [TRAIT]}}]}
    - name: adopt
      type: take-over
      properties: {rules: [{selector: {componentNames: [web], resourceNames: [web]}}]}
    - name: swap
      type: resource-update
      properties: {rules: [{selector: {componentTypes: [webservice]}, strategy: {op: replace, recreateFields: [spec.selector]}}]}
`
	afs, err := Parse("app.yaml", []byte(app))
	require.NoError(t, err)
	plan, err := newTestPlanner(t, nil).Plan(context.Background(), afs[0], PlanOptions{})
	require.NoError(t, err)
	p := &plan.Policies
	require.Equal(t, 5, *p.RevisionLimit)
	require.True(t, p.KeepLegacyResource)

	tests := []struct {
		name string
		obj  ObjectIdentity
		want ObjectPolicy
	}{
		{"db workload", ObjectIdentity{Component: "db", ComponentType: "webservice", Kind: "Deployment", Name: "db"},
			ObjectPolicy{Collect: CollectNever, ApplyOnce: true, IgnorePaths: []string{"spec.replicas"}, Replace: true, RecreateFields: []string{"spec.selector"}}},
		{"db service from a trait: later rule wins", ObjectIdentity{Component: "db", ComponentType: "webservice", Trait: "expose", Kind: "Service", Name: "db"},
			ObjectPolicy{Collect: CollectOnAppDelete, Orphan: true, ApplyOnce: true, Shared: true, Replace: true, RecreateFields: []string{"spec.selector"}}},
		{"web workload", ObjectIdentity{Component: "web", ComponentType: "webservice", Kind: "Deployment", Name: "web"},
			ObjectPolicy{Collect: CollectOnAppUpdate, ApplyOnce: true, IgnorePaths: []string{"spec.replicas"}, TakeOver: true, Replace: true, RecreateFields: []string{"spec.selector"}}},
		{"other type", ObjectIdentity{Component: "x", ComponentType: "worker", Kind: "ConfigMap", Name: "x"},
			ObjectPolicy{Collect: CollectOnAppUpdate, ApplyOnce: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, p.For(tt.obj))
		})
	}
	var none *ResourcePolicies
	require.Equal(t, ObjectPolicy{Collect: CollectOnAppUpdate}, none.For(ObjectIdentity{Kind: "Deployment"}))
}
