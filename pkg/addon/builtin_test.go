package addon_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/addons"
	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/cue"
)

// TestBuiltinAddonsVet loads and vets every built-in addon offline: definitions compile, the
// template renders with defaults and its Application plans.
func TestBuiltinAddonsVet(t *testing.T) {
	reg := addon.NewDirRegistry("ferry", addons.FS, "addons")
	ix, err := reg.Index(context.Background())
	require.NoError(t, err)
	require.Empty(t, ix.Problems)
	entries, err := fs.ReadDir(addons.FS, ".")
	require.NoError(t, err)
	var dirs int
	for _, e := range entries {
		if e.IsDir() {
			dirs++
		}
	}
	require.Len(t, ix.Entries, dirs, "every directory is an addon")
	for name, versions := range ix.Entries {
		t.Run(name, func(t *testing.T) {
			a, err := reg.Fetch(context.Background(), name, versions[0].Version)
			require.NoError(t, err)
			require.NotEmpty(t, a.Readme(), "every built-in addon has a README")
			res, err := addon.Vet(context.Background(), a, addon.VetOptions{Engine: cue.NewEngine(cue.Options{}), Namespace: "ferry-system"})
			require.NoError(t, err)
			require.Empty(t, res.Warnings)
			require.Positive(t, res.Components)
		})
	}
}
