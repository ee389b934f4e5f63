package image

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

// TestControllerImage builds the image `make image` writes, from the real ferry-controller,
// reads the tarball back, checks its config, and runs the binary taken out of its layer.
func TestControllerImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image's binary runs on linux")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "ferry-controller")
	require.NoError(t, BuildBinary(context.Background(), "../..", bin, "v0.0.0-test", ""))
	img, err := Build(Options{Binary: bin, Version: "v0.0.0-test", Revision: "abc123"})
	require.NoError(t, err)
	path := filepath.Join(dir, "image.tar")
	require.NoError(t, WriteTarball(path, "v0.0.0-test", img))

	tag, err := name.NewTag(Repository + ":v0.0.0-test")
	require.NoError(t, err)
	loaded, err := tarball.ImageFromPath(path, &tag)
	require.NoError(t, err)
	cf, err := loaded.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "linux", cf.OS)
	require.Equal(t, runtime.GOARCH, cf.Architecture)
	require.Equal(t, []string{"/ferry-controller"}, cf.Config.Entrypoint)
	require.Equal(t, "65532:65532", cf.Config.User, "not root")
	require.Equal(t, "v0.0.0-test", cf.Config.Labels["org.opencontainers.image.version"])
	require.Equal(t, "abc123", cf.Config.Labels["org.opencontainers.image.revision"])
	require.Equal(t, "https://github.com/ferryhq/ferry", cf.Config.Labels["org.opencontainers.image.source"])
	layers, err := loaded.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)

	// Exactly these files; the binary is executable and runs.
	files := map[string]*tar.Header{}
	r := tar.NewReader(mutate.Extract(loaded))
	out := filepath.Join(dir, "extracted")
	for {
		h, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		files[h.Name] = h
		if h.Name == "ferry-controller" {
			f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
			require.NoError(t, err)
			_, err = io.Copy(f, r)
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	require.ElementsMatch(t, []string{"etc", "etc/passwd", "etc/group", "tmp", "ferry-controller"}, names)
	require.Equal(t, int64(0o755), files["ferry-controller"].Mode)
	require.Equal(t, int64(0o1777), files["tmp"].Mode)
	help, err := exec.Command(out, "--help").CombinedOutput()
	require.NoError(t, err, string(help))
	require.Contains(t, string(help), "-impersonate")
	require.Contains(t, string(help), "-webhook-port")

	// The same binary gives the same image.
	again, err := Build(Options{Binary: bin, Version: "v0.0.0-test", Revision: "abc123"})
	require.NoError(t, err)
	d1, err := img.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2)
}
