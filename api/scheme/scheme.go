// Package scheme builds the runtime scheme of every type Ferry reads and writes: Kubernetes'
// own, Ferry's API and the OCM cluster and work APIs. The controller and the CLI share it.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// NewClient returns a client of the cluster cfg points at that knows every type of New.
func NewClient(cfg *rest.Config) (client.Client, error) {
	s, err := New()
	if err != nil {
		return nil, err
	}
	return client.New(cfg, client.Options{Scheme: s})
}

// New returns a scheme with the Kubernetes, Ferry and OCM types.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1beta1.AddToScheme, clusterv1.Install, clusterv1beta1.Install, workv1.Install} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}
