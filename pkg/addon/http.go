package addon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// Credentials authenticate to a registry: a bearer token, or a user name and password.
type Credentials struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
}

// Empty reports whether no credential is set.
func (c Credentials) Empty() bool { return c == Credentials{} }

// HTTPRegistry is an HTTP(S) server holding index.yaml and the packages it lists, as
// `ferry addon package` and `ferry addon index` write them.
type HTTPRegistry struct {
	name   string
	url    string
	auth   Credentials
	client *http.Client

	mu    sync.Mutex
	index *Index
}

// maxIndexSize bounds index.yaml.
const maxIndexSize = 16 << 20

// NewHTTPRegistry returns a registry at base (the directory URL that holds index.yaml, or the
// index's own URL).
func NewHTTPRegistry(name, base string, auth Credentials) (*HTTPRegistry, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry %s: url %q must be http(s)://HOST/PATH", name, base)
	}
	return &HTTPRegistry{name: name, url: base, auth: auth, client: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Name implements Registry.
func (h *HTTPRegistry) Name() string { return h.name }

func (h *HTTPRegistry) indexURL() string {
	if strings.HasSuffix(h.url, ".yaml") {
		return h.url
	}
	return strings.TrimSuffix(h.url, "/") + "/index.yaml"
}

func (h *HTTPRegistry) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case h.auth.Token != "":
		req.Header.Set("Authorization", "Bearer "+h.auth.Token)
	case h.auth.Username != "":
		req.SetBasicAuth(h.auth.Username, h.auth.Password)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: larger than %d MiB", u, limit>>20)
	}
	return data, nil
}

// Index implements Registry. The index is read once per HTTPRegistry (one command).
func (h *HTTPRegistry) Index(ctx context.Context) (*Index, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.index != nil {
		return h.index, nil
	}
	ix, err := h.readIndex(ctx)
	if err != nil {
		return nil, err
	}
	h.index = ix
	return ix, nil
}

func (h *HTTPRegistry) readIndex(ctx context.Context) (*Index, error) {
	u := h.indexURL()
	data, err := h.get(ctx, u, maxIndexSize)
	if err != nil {
		return nil, err
	}
	ix := &Index{}
	if err := yaml.UnmarshalStrict(data, ix); err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if ix.APIVersion != IndexAPIVersion {
		return nil, fmt.Errorf("%s: apiVersion is %q, want %s (made by ferry addon index?)", u, ix.APIVersion, IndexAPIVersion)
	}
	for name, es := range ix.Entries {
		for _, e := range es {
			if e.Name != name {
				ix.Problems = append(ix.Problems, fmt.Sprintf("%s: entry %s lists %s@%s", u, name, e.Name, e.Version))
			}
		}
	}
	ix.sort()
	return ix, nil
}

// Fetch implements Registry: it downloads the package and checks its digest.
func (h *HTTPRegistry) Fetch(ctx context.Context, name, version string) (*Addon, error) {
	ix, err := h.Index(ctx)
	if err != nil {
		return nil, err
	}
	e, ok := ix.find(name, version)
	if !ok {
		return nil, fmt.Errorf("%s has no addon %s@%s", h.indexURL(), name, version)
	}
	if len(e.URLs) == 0 {
		return nil, fmt.Errorf("%s@%s: the index gives no url", name, version)
	}
	base, _ := url.Parse(h.indexURL())
	ref, err := url.Parse(e.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("%s@%s: url %q: %w", name, version, e.URLs[0], err)
	}
	u := base.ResolveReference(ref).String()
	data, err := h.get(ctx, u, maxPackageSize)
	if err != nil {
		return nil, err
	}
	if e.Digest != "" && Digest(data) != e.Digest {
		return nil, fmt.Errorf("%s: sha256 is %s, the index says %s", u, Digest(data), e.Digest)
	}
	return LoadPackage(data, u)
}
