package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/install"
)

// Names of what the admission webhook needs in the cluster.
const (
	// WebhookConfigName is the ValidatingWebhookConfiguration `ferry install` creates.
	WebhookConfigName = "ferry-application-validation"
	// IdentityWebhookConfigName is the MutatingWebhookConfiguration `ferry install` creates:
	// it records who writes each Application.
	IdentityWebhookConfigName = "ferry-application-identity"
	// WebhookServiceName is the Service in front of the in-cluster controller's webhook.
	WebhookServiceName = "ferry-webhook"
	// WebhookCertSecretName is the Secret holding the webhook's CA and serving certificate, in
	// the system namespace: every replica serves the same certificate.
	WebhookCertSecretName = "ferry-webhook-cert"
)

// certRenewBefore is how long before it expires a certificate is replaced.
const certRenewBefore = 30 * 24 * time.Hour

// WebhookCertOptions say which certificate the webhook needs and where it goes.
type WebhookCertOptions struct {
	// Namespace holds the Service and the Secret.
	Namespace string
	// Host, when set, is the name or IP address the API server calls the webhook at (a
	// controller outside the cluster, `ferry install --webhook-url`); the Service's names are
	// always included.
	Host string
	// Dir receives tls.crt and tls.key for the webhook server.
	Dir string
	// Port is where the webhook is served: with Host, the URL a recreated configuration calls.
	Port int
}

// EnsureWebhookCert makes sure the Secret WebhookCertSecretName holds a CA and a serving
// certificate valid for the Service (and Host), writes the certificate into Dir, and puts the
// CA into the webhook configurations, so the API server trusts every replica. A
// replica that finds a good certificate uses it; two starting at once agree on the one created
// first.
func EnsureWebhookCert(ctx context.Context, c client.Client, o WebhookCertOptions) error {
	hosts := []string{fmt.Sprintf("%s.%s.svc", WebhookServiceName, o.Namespace),
		fmt.Sprintf("%s.%s.svc.cluster.local", WebhookServiceName, o.Namespace), WebhookServiceName + "." + o.Namespace}
	if o.Host != "" {
		hosts = append(hosts, o.Host)
	}
	var secret *corev1.Secret
	err := retry.OnError(retry.DefaultRetry, func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }, func() error {
		var err error
		secret, err = ensureCertSecret(ctx, c, o.Namespace, hosts)
		return err
	})
	if err != nil {
		return fmt.Errorf("webhook certificate secret %s/%s: %w", o.Namespace, WebhookCertSecretName, err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		if err := os.WriteFile(filepath.Join(o.Dir, f), secret.Data[f], 0o600); err != nil {
			return err
		}
	}
	caPEM := secret.Data["ca.crt"]
	for _, cfg := range webhookConfigs {
		err := retry.OnError(retry.DefaultRetry, func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }, func() error {
			return injectCA(ctx, c, o, cfg, caPEM)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// webhookConfig names one webhook configuration `ferry install` creates.
type webhookConfig struct {
	kind, name string
}

// webhookConfigs are the configurations whose webhooks the controller serves.
var webhookConfigs = []webhookConfig{
	{"ValidatingWebhookConfiguration", WebhookConfigName},
	{"MutatingWebhookConfiguration", IdentityWebhookConfigName},
}

// injectCA puts caPEM into every webhook of a configuration, recreating it when it was deleted.
func injectCA(ctx context.Context, c client.Client, o WebhookCertOptions, wc webhookConfig, caPEM []byte) error {
	cfg := &unstructured.Unstructured{}
	cfg.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind(wc.kind))
	err := c.Get(ctx, client.ObjectKey{Name: wc.name}, cfg)
	if apierrors.IsNotFound(err) {
		return recreateWebhookConfig(ctx, c, o, wc, caPEM)
	}
	if err != nil {
		return fmt.Errorf("read %s %s: %w", wc.kind, wc.name, err)
	}
	if !setCABundle(cfg, caPEM) {
		return nil
	}
	return c.Update(ctx, cfg)
}

// setCABundle sets caBundle in each webhook; false when all had it already.
func setCABundle(cfg *unstructured.Unstructured, caPEM []byte) bool {
	want := base64.StdEncoding.EncodeToString(caPEM)
	webhooks, _, _ := unstructured.NestedSlice(cfg.Object, "webhooks")
	changed := false
	for _, w := range webhooks {
		wm, ok := w.(map[string]any)
		if !ok {
			continue
		}
		if cur, _, _ := unstructured.NestedString(wm, "clientConfig", "caBundle"); cur != want {
			_ = unstructured.SetNestedField(wm, want, "clientConfig", "caBundle")
			changed = true
		}
	}
	if changed {
		_ = unstructured.SetNestedSlice(cfg.Object, webhooks, "webhooks")
	}
	return changed
}

// recreateWebhookConfig puts back a deleted webhook configuration, as `ferry install` made it:
// calling https://Host:Port when the controller runs outside the cluster (Host set), else the
// Service in the namespace.
func recreateWebhookConfig(ctx context.Context, c client.Client, o WebhookCertOptions, wc webhookConfig, caPEM []byte) error {
	opts := install.Options{Namespace: o.Namespace, Controller: o.Host == ""}
	if o.Host != "" {
		opts.WebhookURL = "https://" + net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	}
	hooks, err := install.WebhookConfigurations(opts)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		if h.GetName() != wc.name || h.GetKind() != wc.kind {
			continue
		}
		setCABundle(h, caPEM)
		ctrl.LoggerFrom(ctx).Info("the admission webhook configuration was deleted: recreating it", "kind", wc.kind, "name", wc.name)
		return c.Create(ctx, h)
	}
	return fmt.Errorf("no webhook configuration %s %s to recreate", wc.kind, wc.name)
}

// ensureCertSecret returns the certificate Secret, creating or renewing it when it does not
// cover hosts or expires soon. A conflict with another replica's write is returned, and the
// caller tries again on the fresh Secret.
func ensureCertSecret(ctx context.Context, c client.Client, namespace string, hosts []string) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: WebhookCertSecretName}, secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	found := err == nil
	if found && certCovers(secret.Data, hosts, time.Now()) {
		return secret, nil
	}
	if found {
		// Keep the names an earlier replica needed (another host), so it keeps working.
		hosts = appendUnique(hosts, certHosts(secret.Data)...)
	}
	data, err := newWebhookCert(hosts, time.Now())
	if err != nil {
		return nil, err
	}
	if !found {
		secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: WebhookCertSecretName},
			Type: corev1.SecretTypeTLS, Data: data}
		return secret, c.Create(ctx, secret)
	}
	secret.Data = data
	return secret, c.Update(ctx, secret) // optimistic: fails on a concurrent change
}

// certCovers reports whether the Secret's certificate is valid for every host for a while.
func certCovers(data map[string][]byte, hosts []string, now time.Time) bool {
	pair, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil || len(data["ca.crt"]) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(certRenewBefore).After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func certHosts(data map[string][]byte) []string {
	block, _ := pem.Decode(data[corev1.TLSCertKey])
	if block == nil {
		return nil
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil
	}
	out := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		if !slices.Contains(list, m) {
			list = append(list, m)
		}
	}
	return list
}

// newWebhookCert makes a CA and a serving certificate for hosts (names or IP addresses),
// valid for ten years, as Secret data: ca.crt, tls.crt and tls.key.
func newWebhookCert(hosts []string, now time.Time) (map[string][]byte, error) {
	if len(hosts) == 0 {
		return nil, errors.New("no host to make a certificate for")
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial := func() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)) }
	caSerial, err := serial()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{SerialNumber: caSerial, Subject: pkix.Name{CommonName: "ferry-webhook-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafSerial, err := serial()
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{SerialNumber: leafSerial, Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leafTmpl.IPAddresses = append(leafTmpl.IPAddresses, ip)
		} else {
			leafTmpl.DNSNames = append(leafTmpl.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"ca.crt":                pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}
