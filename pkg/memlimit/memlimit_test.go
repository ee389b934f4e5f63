package memlimit

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// tree writes files under a temporary root: path → content.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, content := range files {
		full := filepath.Join(root, path)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	return root
}

func TestCgroupLimit(t *testing.T) {
	const mi = 1 << 20
	tests := []struct {
		name     string
		self     string
		files    map[string]string
		want     int64
		wantFile string
	}{
		{
			name:     "v2 in a container (cgroup namespace)",
			self:     "0::/\n",
			files:    map[string]string{"memory.max": "536870912\n"},
			want:     512 * mi,
			wantFile: "memory.max",
		},
		{
			name:  "v2 without a limit",
			self:  "0::/\n",
			files: map[string]string{"memory.max": "max\n"},
		},
		{
			name:     "v2 path visible, limit on the pod's cgroup above the container's",
			self:     "0::/kubepods/pod1/ctr\n",
			files:    map[string]string{"kubepods/pod1/ctr/memory.max": "max", "kubepods/pod1/memory.max": "268435456", "kubepods/memory.max": "1073741824"},
			want:     256 * mi,
			wantFile: "kubepods/pod1/memory.max",
		},
		{
			name: "v1 hybrid: memory on v1, unified without memory",
			self: "9:name=systemd:/\n4:memory:/process_api/abc\n0::/\n",
			files: map[string]string{
				"memory/memory.limit_in_bytes":                 "9223372036854771712",
				"memory/process_api/abc/memory.limit_in_bytes": "402653184",
			},
			want:     384 * mi,
			wantFile: "memory/process_api/abc/memory.limit_in_bytes",
		},
		{
			name:  "v1 unlimited everywhere",
			self:  "4:memory:/x\n",
			files: map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712", "memory/x/memory.limit_in_bytes": "9223372036854771712"},
		},
		{
			name: "no cgroup files at all",
			self: "0::/\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"self": tt.self}
			for k, v := range tt.files {
				files["cg/"+k] = v
			}
			root := tree(t, files)
			got, file, err := CgroupLimit(Options{Root: filepath.Join(root, "cg"), ProcSelfCgroup: filepath.Join(root, "self")})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			if tt.wantFile != "" {
				require.Equal(t, filepath.Join(root, "cg", tt.wantFile), file)
			}
		})
	}
}

func TestCgroupLimitGarbage(t *testing.T) {
	root := tree(t, map[string]string{"self": "0::/\n", "cg/memory.max": "lots\n"})
	_, _, err := CgroupLimit(Options{Root: filepath.Join(root, "cg"), ProcSelfCgroup: filepath.Join(root, "self")})
	require.ErrorContains(t, err, "memory.max")
}

func TestSet(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	gcBefore := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetMemoryLimit(before); debug.SetGCPercent(gcBefore) })
	root := tree(t, map[string]string{"self": "0::/\n", "cg/memory.max": "536870912\n"})
	opts := Options{Root: filepath.Join(root, "cg"), ProcSelfCgroup: filepath.Join(root, "self"), Getenv: func(string) string { return "" }}

	res, err := Set(opts)
	require.NoError(t, err)
	limit := float64(536870912)
	require.Equal(t, int64(limit*DefaultFraction), res.Limit)
	require.Equal(t, res.Limit, debug.SetMemoryLimit(-1), "the runtime's limit is set")
	require.Contains(t, res.String(), "memory limit 409MiB (of the cgroup's 512MiB")
	require.Equal(t, GCPercent, res.GCPercent)
	require.Equal(t, GCPercent, debug.SetGCPercent(100), "with a limit bounding the heap, the GC target is raised")
	require.Contains(t, res.String(), fmt.Sprintf("GOGC=%d", GCPercent))

	debug.SetMemoryLimit(before)
	opts.Getenv = func(k string) string {
		if k == "GOMEMLIMIT" {
			return "100MiB"
		}
		return ""
	}
	res, err = Set(opts)
	require.NoError(t, err)
	require.Equal(t, "GOMEMLIMIT", res.Source)
	require.Equal(t, before, debug.SetMemoryLimit(-1), "GOMEMLIMIT wins: the limit is left as the runtime set it")
	require.Equal(t, GCPercent, debug.SetGCPercent(100), "a limit from GOMEMLIMIT bounds the heap too")

	// GOGC, when set, wins; so does a negative GCPercent.
	for _, o := range []Options{
		{Root: opts.Root, ProcSelfCgroup: opts.ProcSelfCgroup, Getenv: func(k string) string {
			if k == "GOGC" {
				return "150"
			}
			return ""
		}},
		{Root: opts.Root, ProcSelfCgroup: opts.ProcSelfCgroup, Getenv: func(string) string { return "" }, GCPercent: -1},
	} {
		res, err = Set(o)
		require.NoError(t, err)
		require.Zero(t, res.GCPercent)
		require.Equal(t, 100, debug.SetGCPercent(100), "the GC target is left alone")
		require.NotContains(t, res.String(), "GOGC")
	}

	// Without a limit the GC target is left alone: nothing else bounds the heap.
	noLimit := tree(t, map[string]string{"self": "0::/\n", "cg/memory.max": "max\n"})
	res, err = Set(Options{Root: filepath.Join(noLimit, "cg"), ProcSelfCgroup: filepath.Join(noLimit, "self"), Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	require.Zero(t, res.Limit)
	require.Equal(t, 100, debug.SetGCPercent(100))
}
