package testenv

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TrustServiceAccounts lets every ServiceAccount of a managed cluster do anything there
// (cluster-admin), so ManifestWorks naming any executor apply as if they named none: for
// tests about something other than tenancy. A platform team grants each executor only what
// its tenants may do (GrantExecutor).
func TrustServiceAccounts(ctx context.Context, c client.Client) error {
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "testenv-trust-service-accounts"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts"}}}
	if err := c.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("trust every ServiceAccount: %w", err)
	}
	return nil
}

// GrantExecutor creates namespace on a managed cluster and lets ServiceAccount name there do
// in it what clusterRole allows (a RoleBinding): what a platform team does for a tenant whose
// apps' ManifestWorks name that executor.
func GrantExecutor(ctx context.Context, c client.Client, namespace, name, clusterRole string) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-" + clusterRole},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}}}
	if err := c.Create(ctx, b); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("grant %s/%s %s: %w", namespace, name, clusterRole, err)
	}
	return nil
}
