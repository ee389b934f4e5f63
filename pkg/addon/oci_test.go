package addon_test

import (
	"context"
	"io"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/addon"
)

// TestOCIRegistry pushes two versions of an addon to a real OCI registry (go-containerregistry's
// registry, on loopback), lists and fetches them through the registry API.
func TestOCIRegistry(t *testing.T) {
	base := serve(t, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	ref := "oci://" + strings.TrimPrefix(base, "http://") + "/team/addons"
	for _, v := range []string{"1.0.0", "1.1.0+build.7"} {
		dir := writeAddon(t, with(map[string]string{"metadata.yaml": "name: demo\nversion: " + v + "\ndependencies: [{name: base, version: \"^1\"}]\n"}))
		a, err := addon.Load(os.DirFS(dir), dir)
		require.NoError(t, err)
		pkg, err := addon.Package(a)
		require.NoError(t, err)
		tag, err := addon.PushOCI(context.Background(), ref, a, pkg, addon.Credentials{})
		require.NoError(t, err)
		require.Equal(t, "demo-"+strings.ReplaceAll(v, "+", "_"), tag)
	}
	reg, err := addon.NewOCIRegistry("oci", ref, addon.Credentials{})
	require.NoError(t, err)
	ix, err := reg.Index(context.Background())
	require.NoError(t, err)
	require.Empty(t, ix.Problems)
	require.Len(t, ix.Entries["demo"], 2)
	require.Equal(t, "1.1.0+build.7", ix.Entries["demo"][0].Version, "newest first")
	require.Equal(t, "base", ix.Entries["demo"][0].Dependencies[0].Name, "dependencies come from the manifest")
	a, err := reg.Fetch(context.Background(), "demo", "1.0.0")
	require.NoError(t, err)
	require.Equal(t, "1.0.0", a.Version())
	require.Equal(t, "# demo\n", a.Readme())
	_, err = reg.Fetch(context.Background(), "demo", "9.9.9")
	require.ErrorContains(t, err, "has no addon demo@9.9.9")

	_, err = addon.NewOCIRegistry("oci", "https://example.com/x", addon.Credentials{})
	require.ErrorContains(t, err, "must be oci://HOST[:PORT]/REPOSITORY")
	empty, err := addon.NewOCIRegistry("oci", "oci://"+strings.TrimPrefix(base, "http://")+"/nothing/here", addon.Credentials{})
	require.NoError(t, err)
	_, err = empty.Index(context.Background())
	require.ErrorContains(t, err, "list tags of")
}
