package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Repository is where released controller images go; config/controller/deployment.yaml names it.
const Repository = "ghcr.io/ferryhq/ferry-controller"

// User is the numeric user and group the image runs as (not root; no shell, no home to write).
const User = "65532:65532"

// Entrypoint is where the binary sits in the image.
const Entrypoint = "/ferry-controller"

// Options say what to build.
type Options struct {
	// Binary is a static linux binary of ferry-controller (see BuildBinary).
	Binary string
	// Version goes into the tag and the org.opencontainers.image.version label.
	Version string
	// Revision, when set, is the source revision (org.opencontainers.image.revision).
	Revision string
	// Created is the image's creation time; the Unix epoch when zero, so the same binary gives
	// the same image.
	Created time.Time
	// Arch is the binary's GOARCH (runtime.GOARCH when empty).
	Arch string
}

// Labels are the OCI annotations the image config carries.
func (o Options) Labels() map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "ferry-controller",
		"org.opencontainers.image.description": "Ferry's hub controller: delivers OAM Applications to the hub and to OCM managed clusters",
		"org.opencontainers.image.source":      "https://github.com/ferryhq/ferry",
		"org.opencontainers.image.version":     o.Version,
	}
	if o.Revision != "" {
		l["org.opencontainers.image.revision"] = o.Revision
	}
	return l
}

// Build returns the image.
func Build(o Options) (v1.Image, error) {
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("read the binary: %w", err)
	}
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	files, err := rootFS(bin, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(files)), nil })
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", o.Arch, v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint: []string{Entrypoint},
		User:       User,
		WorkingDir: "/",
		Env:        []string{"PATH=/", "TMPDIR=/tmp"},
		Labels:     o.Labels(),
		ExposedPorts: map[string]struct{}{
			"8080/tcp": {}, "8081/tcp": {}, "9443/tcp": {},
		},
	}
	return mutate.ConfigFile(img, cf)
}

// rootFS is the layer: the binary, /etc/passwd and /etc/group naming the user, and /tmp.
func rootFS(bin []byte, mod time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) error {
		h.ModTime, h.Format = mod, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	entries := []struct {
		h    tar.Header
		data []byte
	}{
		{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("nonroot:x:65532:65532:nonroot:/:/sbin/nologin\n")},
		{tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("nonroot:x:65532:\n")},
		// Writable only where a volume is mounted: the shipped Deployment has a read-only root
		// filesystem and mounts an emptyDir for the webhook's certificate.
		{tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil},
		{tar.Header{Name: Entrypoint[1:], Typeflag: tar.TypeReg, Mode: 0o755}, bin},
	}
	for _, e := range entries {
		h := e.h
		h.Size = int64(len(e.data))
		if err := add(&h, e.data); err != nil {
			return nil, fmt.Errorf("layer file %s: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTarball writes img tagged Repository:version to path (a `docker save` tarball).
func WriteTarball(path, version string, img v1.Image) error {
	tag, err := name.NewTag(Repository + ":" + version)
	if err != nil {
		return fmt.Errorf("tag %q: %w", version, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}

// BuildBinary builds a static linux ferry-controller (no cgo, trimmed paths, no symbol table)
// from the module in dir into out.
func BuildBinary(ctx context.Context, dir, out, version, arch string) error {
	if arch == "" {
		arch = runtime.GOARCH
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version,
		"-o", out, "./cmd/ferry-controller")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ferry-controller: %w\n%s", err, b)
	}
	return nil
}
