package addon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/addons"
)

// Registry types.
const (
	TypeDir  = "dir"
	TypeGit  = "git"
	TypeHTTP = "http"
	TypeOCI  = "oci"
)

// BuiltinRegistryName is the registry of the addons embedded in Ferry.
const BuiltinRegistryName = "ferry"

// RegistriesConfigMap holds the registries added with `ferry addon registry add`.
const RegistriesConfigMap = "ferry-addon-registries"

// Builtin is the registry of Ferry's own addons/ folder, embedded in the binary.
func Builtin() Registry { return NewDirRegistry(BuiltinRegistryName, addons.FS, "ferry:addons") }

// RegistrySpec is a registry as the hub stores it. Credentials live in the Secret SecretName.
type RegistrySpec struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// URL is the repository or index URL; for dir, a path on the machine that runs ferry.
	URL string `json:"url"`
	// Ref is a Git branch, tag or commit; Path a subdirectory of the repository.
	Ref  string `json:"ref,omitempty"`
	Path string `json:"path,omitempty"`
	// SecretName names the Secret with username/password or token, when there are credentials.
	SecretName string `json:"secretName,omitempty"`
}

// CredentialsSecret is the Secret that holds a registry's credentials.
func CredentialsSecret(registry string) string { return "ferry-addon-registry-" + registry }

// RegistrySpecs reads the registries stored on the hub, sorted by name.
func RegistrySpecs(ctx context.Context, c client.Reader, namespace string) ([]RegistrySpec, error) {
	cm := &corev1.ConfigMap{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: RegistriesConfigMap}, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read addon registries: %w", err)
	}
	var out []RegistrySpec
	for _, name := range sortedKeys(cm.Data) {
		var s RegistrySpec
		if err := yaml.UnmarshalStrict([]byte(cm.Data[name]), &s); err != nil {
			return nil, fmt.Errorf("configmap %s/%s, key %s: %w", namespace, RegistriesConfigMap, name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Validate checks a spec before it is stored.
func (s RegistrySpec) Validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("registry name %q must be lowercase letters, digits and '-'", s.Name)
	}
	if s.Name == BuiltinRegistryName {
		return fmt.Errorf("registry name %q is Ferry's built-in registry", s.Name)
	}
	switch s.Type {
	case TypeDir:
		if s.URL == "" {
			return fmt.Errorf("registry %s: give the directory with --url", s.Name)
		}
	case TypeGit, TypeHTTP:
		if s.URL == "" {
			return fmt.Errorf("registry %s: give the URL with --url", s.Name)
		}
		if s.Type == TypeHTTP {
			if _, err := NewHTTPRegistry(s.Name, s.URL, Credentials{}); err != nil {
				return err
			}
		}
	case TypeOCI:
		if _, err := NewOCIRegistry(s.Name, s.URL, Credentials{}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("registry %s: type %q must be dir, git, http or oci", s.Name, s.Type)
	}
	return nil
}

// SaveRegistry stores a registry and, when creds are given, its credentials Secret.
func SaveRegistry(ctx context.Context, c client.Client, namespace string, s RegistrySpec, creds Credentials) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.Type == TypeDir {
		abs, err := filepath.Abs(s.URL)
		if err != nil {
			return err
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return fmt.Errorf("registry %s: %s is not a directory", s.Name, s.URL)
		}
		s.URL = abs
	}
	if !creds.Empty() {
		s.SecretName = CredentialsSecret(s.Name)
		sec := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: s.SecretName, Namespace: namespace, Labels: map[string]string{"addons.ferry.dev/registry": s.Name}},
			StringData: map[string]string{"username": creds.Username, "password": creds.Password, "token": creds.Token}}
		if err := c.Patch(ctx, sec, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("store registry %s's credentials: %w", s.Name, err)
		}
	}
	data, err := yaml.Marshal(s)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: RegistriesConfigMap, Namespace: namespace},
		Data:       map[string]string{s.Name: string(data)}}
	// Each registry is its own key: applying one leaves the others' keys alone only if they
	// have other managers, so merge with what is stored.
	current := &corev1.ConfigMap{}
	err = c.Get(ctx, client.ObjectKeyFromObject(cm), current)
	switch {
	case apierrors.IsNotFound(err):
		return c.Create(ctx, cm)
	case err != nil:
		return err
	}
	if current.Data == nil {
		current.Data = map[string]string{}
	}
	current.Data[s.Name] = string(data)
	return c.Update(ctx, current)
}

// RemoveRegistry deletes a stored registry and its credentials.
func RemoveRegistry(ctx context.Context, c client.Client, namespace, name string) error {
	current := &corev1.ConfigMap{}
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: RegistriesConfigMap}, current)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if _, ok := current.Data[name]; !ok {
		if name == BuiltinRegistryName {
			return fmt.Errorf("registry %s is built in and cannot be removed", name)
		}
		return fmt.Errorf("no registry named %s (ferry addon registry list shows them)", name)
	}
	delete(current.Data, name)
	if err := c.Update(ctx, current); err != nil {
		return err
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: CredentialsSecret(name), Namespace: namespace}}
	if err := c.Delete(ctx, sec); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// Open returns the registry a spec describes, reading its credentials from the hub.
func (s RegistrySpec) Open(ctx context.Context, c client.Reader, namespace string) (Registry, error) {
	var creds Credentials
	if s.SecretName != "" {
		sec := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: s.SecretName}, sec); err != nil {
			return nil, fmt.Errorf("registry %s: read its credentials: %w", s.Name, err)
		}
		creds = Credentials{Username: string(sec.Data["username"]), Password: string(sec.Data["password"]), Token: string(sec.Data["token"])}
	}
	switch s.Type {
	case TypeDir:
		return NewDirRegistry(s.Name, os.DirFS(s.URL), s.URL), nil
	case TypeGit:
		return NewGitRegistry(s.Name, s.URL, s.Ref, s.Path, creds), nil
	case TypeHTTP:
		return NewHTTPRegistry(s.Name, s.URL, creds)
	case TypeOCI:
		return NewOCIRegistry(s.Name, s.URL, creds)
	}
	return nil, s.Validate()
}

// OpenRegistries returns the hub's registries in name order, then the built-in one.
func OpenRegistries(ctx context.Context, c client.Reader, namespace string) (*Registries, []RegistrySpec, error) {
	specs, err := RegistrySpecs(ctx, c, namespace)
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	var list []Registry
	for _, s := range specs {
		r, err := s.Open(ctx, c, namespace)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, r)
	}
	list = append(list, Builtin())
	return NewRegistries(list...), specs, nil
}
