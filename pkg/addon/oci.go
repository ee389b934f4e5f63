package addon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"
	oras "oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Media types of an addon in an OCI registry: one artifact per version, whose single layer is
// the package `ferry addon package` writes.
const (
	OCIArtifactType   = "application/vnd.ferry.addon.v1"
	OCILayerMediaType = "application/vnd.ferry.addon.layer.v1.tar+gzip"
	// ociMetadataAnnotation holds the addon's index entry, so listing reads manifests only.
	ociMetadataAnnotation = "addons.ferry.dev/entry"
)

// OCIRegistry is an OCI repository (oci://HOST/PATH) whose tags are NAME-VERSION, each an addon
// package pushed by `ferry addon package --push` (or oras, with the layer media type above).
// A loopback registry is spoken to over plain HTTP, as Docker does; others over HTTPS.
type OCIRegistry struct {
	name string
	repo *remote.Repository

	mu    sync.Mutex
	index *Index
	tags  map[string]string // NAME@VERSION -> tag
}

// NewOCIRegistry returns a registry over the repository at ref, oci://HOST[:PORT]/PATH.
func NewOCIRegistry(name, ref string, creds Credentials) (*OCIRegistry, error) {
	repo, err := ociRepository(ref, creds)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", name, err)
	}
	return &OCIRegistry{name: name, repo: repo}, nil
}

func ociRepository(ref string, creds Credentials) (*remote.Repository, error) {
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "oci" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, fmt.Errorf("url %q must be oci://HOST[:PORT]/REPOSITORY", ref)
	}
	repo, err := remote.NewRepository(u.Host + "/" + strings.Trim(u.Path, "/"))
	if err != nil {
		return nil, err
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	repo.PlainHTTP = host == "localhost" || (ip != nil && ip.IsLoopback())
	client := &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache()}
	if !creds.Empty() {
		cred := auth.Credential{Username: creds.Username, Password: creds.Password, AccessToken: creds.Token}
		client.Credential = auth.StaticCredential(u.Host, cred)
	}
	repo.Client = client
	return repo, nil
}

// Name implements Registry.
func (o *OCIRegistry) Name() string { return o.name }

// ociTag is the tag of an addon version: NAME-VERSION, with '+' (not allowed in tags) as '_'.
func ociTag(name, version string) string { return name + "-" + strings.ReplaceAll(version, "+", "_") }

// Index implements Registry: it lists the repository's tags and reads each manifest's entry
// annotation (8 at a time), once per OCIRegistry.
func (o *OCIRegistry) Index(ctx context.Context) (*Index, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.index != nil {
		return o.index, nil
	}
	var tags []string
	if err := o.repo.Tags(ctx, "", func(page []string) error {
		tags = append(tags, page...)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", o.repo.Reference, err)
	}
	entries := make([]*Entry, len(tags))
	problems := make([]string, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, tag := range tags {
		g.Go(func() error {
			e, err := o.entry(gctx, tag)
			if err != nil {
				problems[i] = fmt.Sprintf("%s:%s: %v", o.repo.Reference, tag, err)
				return nil
			}
			entries[i] = e
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ix := &Index{APIVersion: IndexAPIVersion, Entries: map[string][]Entry{}}
	o.tags = map[string]string{}
	for i, e := range entries {
		if e == nil {
			if problems[i] != "" {
				ix.Problems = append(ix.Problems, problems[i])
			}
			continue
		}
		ix.add(*e)
		o.tags[e.Name+"@"+e.Version] = tags[i]
	}
	ix.sort()
	o.index = ix
	return ix, nil
}

func (o *OCIRegistry) entry(ctx context.Context, tag string) (*Entry, error) {
	_, rc, err := o.repo.FetchReference(ctx, tag)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var m ocispec.Manifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.ArtifactType != OCIArtifactType {
		return nil, fmt.Errorf("not an addon (artifactType %q)", m.ArtifactType)
	}
	e := &Entry{}
	if err := json.Unmarshal([]byte(m.Annotations[ociMetadataAnnotation]), e); err != nil || e.Name == "" {
		return nil, fmt.Errorf("its manifest has no %s annotation (push it with ferry addon package --push)", ociMetadataAnnotation)
	}
	return e, nil
}

// Fetch implements Registry: it pulls the version's layer, checked against its digest.
func (o *OCIRegistry) Fetch(ctx context.Context, name, version string) (*Addon, error) {
	if _, err := o.Index(ctx); err != nil {
		return nil, err
	}
	tag, ok := o.tags[name+"@"+version]
	if !ok {
		return nil, fmt.Errorf("%s has no addon %s@%s", o.repo.Reference, name, version)
	}
	_, rc, err := o.repo.FetchReference(ctx, tag)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	err = json.NewDecoder(rc).Decode(&m)
	rc.Close()
	if err != nil {
		return nil, err
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != OCILayerMediaType {
		return nil, fmt.Errorf("%s:%s: want one layer of %s", o.repo.Reference, tag, OCILayerMediaType)
	}
	if m.Layers[0].Size > maxPackageSize {
		return nil, fmt.Errorf("%s:%s: the package is larger than %d MiB", o.repo.Reference, tag, maxPackageSize>>20)
	}
	data, err := content.FetchAll(ctx, o.repo, m.Layers[0]) // verifies size and digest
	if err != nil {
		return nil, err
	}
	return LoadPackage(data, fmt.Sprintf("oci://%s:%s", o.repo.Reference, tag))
}

// PushOCI pushes a package (as Package made it from a) to the repository ref, oci://HOST/PATH,
// tagged NAME-VERSION, and returns the tag.
func PushOCI(ctx context.Context, ref string, a *Addon, pkg []byte, creds Credentials) (string, error) {
	repo, err := ociRepository(ref, creds)
	if err != nil {
		return "", err
	}
	layer := ocispec.Descriptor{MediaType: OCILayerMediaType, Digest: digest.FromBytes(pkg), Size: int64(len(pkg)),
		Annotations: map[string]string{ocispec.AnnotationTitle: PackageName(a.Name(), a.Version())}}
	if err := repo.Push(ctx, layer, bytes.NewReader(pkg)); err != nil && !strings.Contains(err.Error(), "already exists") {
		return "", fmt.Errorf("push %s: %w", layer.Digest, err)
	}
	entry, err := json.Marshal(entryOf(a.Metadata))
	if err != nil {
		return "", err
	}
	manifest, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, OCIArtifactType, oras.PackManifestOptions{
		Layers:              []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{ociMetadataAnnotation: string(entry), ocispec.AnnotationCreated: "1970-01-01T00:00:00Z"},
	})
	if err != nil {
		return "", fmt.Errorf("push the manifest: %w", err)
	}
	tag := ociTag(a.Name(), a.Version())
	if err := repo.Tag(ctx, manifest, tag); err != nil {
		return "", fmt.Errorf("tag %s: %w", tag, err)
	}
	return tag, nil
}
