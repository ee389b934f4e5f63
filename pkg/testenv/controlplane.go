package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// startEtcd starts the one etcd every apiserver shares, each under its own prefix.
func (e *Env) startEtcd(ctx context.Context) error {
	dataDir, err := dirOf(e.Dir, "etcd")
	if err != nil {
		return err
	}
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return err
		}
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	p, err := startProcess(e.Dir, "etcd", e.opts.Binaries.Etcd, []string{
		"--data-dir=" + dataDir, "--unsafe-no-fsync", "--name=default",
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=default=" + peer,
		fmt.Sprintf("--listen-metrics-urls=http://127.0.0.1:%d", ports[2]),
		"--log-level=warn",
	}, nil, e.opts.Detach)
	if err != nil {
		return err
	}
	e.track(p)
	e.etcd = client
	return wait(ctx, 30*time.Second, "etcd health", func() (bool, error) {
		if err := p.failed(); err != nil {
			return false, err
		}
		resp, err := http.Get(client + "/health")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// startAPIServer starts one kube-apiserver with a token for an admin user and writes its
// kubeconfig.
func (e *Env) startAPIServer(ctx context.Context, spec ClusterSpec) (*Cluster, error) {
	dir, err := dirOf(e.Dir, "clusters", spec.Name)
	if err != nil {
		return nil, err
	}
	token := randomToken()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	keyFile, pubFile := filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := writeServiceAccountKey(keyFile, pubFile); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := startProcess(e.Dir, "kube-apiserver-"+spec.Name, e.opts.Binaries.KubeAPIServer, []string{
		"--etcd-servers=" + e.etcd, "--etcd-prefix=/" + spec.Name,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "certs"),
		"--token-auth-file=" + tokens, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pubFile, "--service-account-signing-key-file=" + keyFile,
		"--service-cluster-ip-range=10.0.0.0/24", "--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
	}, nil, e.opts.Detach)
	if err != nil {
		return nil, err
	}
	e.track(p)
	cfg := &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", port),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             100, Burst: 200,
	}
	kubeconfig := filepath.Join(e.Dir, spec.Name+".kubeconfig")
	if err := writeKubeconfig(kubeconfig, spec.Name, cfg); err != nil {
		return nil, err
	}
	if err := waitAPIServer(ctx, p, spec.Name, cfg); err != nil {
		return nil, err
	}
	if err := e.startControllerManager(spec.Name, kubeconfig); err != nil {
		return nil, err
	}
	return &Cluster{Name: spec.Name, Labels: spec.Labels, Kubeconfig: kubeconfig, Config: cfg}, nil
}

// waitAPIServer waits until the API server p answers /readyz.
func waitAPIServer(ctx context.Context, p *process, name string, cfg *rest.Config) error {
	httpClient := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback test apiserver with a self-signed certificate
	return wait(ctx, 60*time.Second, "kube-apiserver "+name+" ready", func() (bool, error) {
		if err := p.failed(); err != nil {
			return false, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Host+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// RestartAPIServer stops a cluster's API server and starts it again on the same port, with the
// same state (etcd keeps it), as an upgrade or a crash of the API server would; it returns once
// the server is ready.
func (e *Env) RestartAPIServer(ctx context.Context, cluster string) error {
	c, ok := e.Hub, e.Hub != nil && e.Hub.Name == cluster
	if !ok {
		if c, ok = e.Cluster(cluster); !ok {
			return fmt.Errorf("no cluster %q", cluster)
		}
	}
	name := "kube-apiserver-" + cluster
	e.mu.Lock()
	var old *process
	for i, p := range e.procs {
		if p.Name == name {
			old = p
			e.procs = append(e.procs[:i], e.procs[i+1:]...)
			break
		}
	}
	e.mu.Unlock()
	if old == nil {
		return fmt.Errorf("cluster %q has no running API server", cluster)
	}
	old.stop(10 * time.Second)
	p, err := startProcess(e.Dir, name, old.Binary, old.args, old.env, old.detach)
	if err != nil {
		return err
	}
	e.track(p)
	return waitAPIServer(ctx, p, cluster, c.Config)
}

// startControllerManager runs the namespace and garbage-collector controllers of a cluster. The
// deployment controller is left out on purpose: there is no kubelet, and tests mark Deployments
// ready by patching their status, which that controller would overwrite.
func (e *Env) startControllerManager(cluster, kubeconfig string) error {
	p, err := startProcess(e.Dir, "kube-controller-manager-"+cluster, e.opts.Binaries.KubeControllerManager, []string{
		"--kubeconfig=" + kubeconfig, "--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--secure-port=0", "--leader-elect=false",
		"--controllers=namespace-controller,garbage-collector-controller",
	}, nil, e.opts.Detach)
	if err != nil {
		return err
	}
	e.track(p)
	return nil
}

func writeServiceAccountKey(keyFile, pubFile string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func writeKubeconfig(path, name string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, InsecureSkipTLSVerify: true}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	return clientcmd.WriteToFile(*kc, path)
}

// LoadKubeconfig reads a kubeconfig written by the environment.
func LoadKubeconfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return cfg, nil
}

// WriteKubeconfig writes a kubeconfig for cfg (token or client-certificate auth), e.g. for
// running the ferry CLI against envtest.
func WriteKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData,
		InsecureSkipTLSVerify: len(cfg.CAData) == 0}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken, ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	return clientcmd.WriteToFile(*kc, path)
}
