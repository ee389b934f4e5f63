package main

import (
	"context"
	"fmt"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kubeFlags are kubectl's flags for reaching a cluster, shared by every command that talks to one.
type kubeFlags struct {
	kubeconfig string
	context    string
	namespace  string
}

func (k *kubeFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().StringVar(&k.context, "context", "", "kubeconfig context to use")
	cmd.Flags().StringVarP(&k.namespace, "namespace", "n", "", "namespace (default: the context's, else default)")
}

func (k *kubeFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.kubeconfig != "" {
		rules.ExplicitPath = k.kubeconfig
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.context})
}

// restConfig loads the cluster connection.
func (k *kubeFlags) restConfig() (*rest.Config, error) {
	cfg, err := k.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// client returns a client with Ferry's types and the namespace to work in.
func (k *kubeFlags) client() (client.Client, string, error) {
	cfg, err := k.restConfig()
	if err != nil {
		return nil, "", err
	}
	c, err := ferryscheme.NewClient(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	ns := k.namespace
	if ns == "" {
		if ns, _, err = k.clientConfig().Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	return c, ns, nil
}

func isNoKind(err error) bool { return meta.IsNoMatchError(err) }

// application reads one Application from the namespace the flags name, with the client.
func (k *kubeFlags) application(ctx context.Context, name string) (client.Client, *v1beta1.Application, error) {
	c, ns, err := k.client()
	if err != nil {
		return nil, nil, err
	}
	app := &v1beta1.Application{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
		return nil, nil, fmt.Errorf("get application %s/%s: %w", ns, name, err)
	}
	return c, app, nil
}
