package identity

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ferryhq/ferry/api/v1beta1"
)

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        Identity
	}{
		{"nothing recorded", nil, Identity{}},
		{"writer", map[string]string{v1beta1.AnnotationUsername: "alice", v1beta1.AnnotationGroup: "dev,system:authenticated"},
			Identity{User: "alice", Groups: []string{"dev", "system:authenticated"}}},
		{"writer without groups", map[string]string{v1beta1.AnnotationUsername: "alice"}, Identity{User: "alice"}},
		{"a ServiceAccount wins", map[string]string{v1beta1.AnnotationUsername: "alice", v1beta1.AnnotationServiceAccountName: "deployer"},
			Identity{User: "system:serviceaccount:team-a:deployer", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := &metav1.ObjectMeta{Namespace: "team-a", Annotations: tc.annotations}
			require.Equal(t, tc.want, Of(app))
		})
	}
}

func TestCheckRecord(t *testing.T) {
	recorded := map[string]string{v1beta1.AnnotationUsername: "alice", v1beta1.AnnotationGroup: "dev"}
	for _, tc := range []struct {
		name     string
		old, new map[string]string
		refused  string
	}{
		{"nothing set", nil, nil, ""},
		{"left as recorded by someone else", recorded, recorded, ""},
		{"set to oneself", nil, map[string]string{v1beta1.AnnotationUsername: "bob", v1beta1.AnnotationGroup: "ops,system:authenticated"}, ""},
		{"removed", recorded, map[string]string{}, ""},
		{"another user", nil, map[string]string{v1beta1.AnnotationUsername: "admin"}, `says "admin", but "bob" is writing`},
		{"changed to another user", recorded, map[string]string{v1beta1.AnnotationUsername: "carol", v1beta1.AnnotationGroup: "dev"}, `says "carol"`},
		{"more groups", nil, map[string]string{v1beta1.AnnotationGroup: "ops,system:masters"}, `app.oam.dev/group says "ops,system:masters"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRecord(tc.old, tc.new, "bob", []string{"ops", "system:authenticated"})
			if tc.refused == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.refused)
		})
	}
}

func TestReaderFrom(t *testing.T) {
	fallback, own := fake.NewClientBuilder().Build(), fake.NewClientBuilder().Build()
	ctx := context.Background()
	require.Equal(t, client.Reader(fallback), ReaderFrom(ctx, fallback))
	require.Equal(t, client.Reader(own), ReaderFrom(WithReader(ctx, own), fallback))
}
