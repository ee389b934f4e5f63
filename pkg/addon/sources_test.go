package addon_test

import (
	"archive/zip"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/addon"
)

// serve serves h on loopback until the test ends and returns its base URL.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=ferry", "GIT_AUTHOR_EMAIL=ferry@example.com",
		"GIT_COMMITTER_NAME=ferry", "GIT_COMMITTER_EMAIL=ferry@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// gitServer serves the repositories under root with git's own smart-HTTP server
// (git http-backend through CGI) on loopback.
func gitServer(t *testing.T, root string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("FERRY_REQUIRE_TESTBIN") != "" {
			t.Fatal("git is needed for the Git registry test")
		}
		t.Skip("git is not installed")
	}
	execPath := git(t, root, "--exec-path")
	backend := filepath.Join(execPath, "git-http-backend")
	require.FileExists(t, backend)
	return serve(t, &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}})
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

// TestGitRegistry reads addons from a real Git server: a subdirectory at the default branch,
// at another branch, at a tag and at a commit.
func TestGitRegistry(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	require.NoError(t, os.MkdirAll(work, 0o755))
	git(t, work, "init", "-q", "-b", "main")
	writeFiles(t, work, map[string]string{"catalog/demo/metadata.yaml": "name: demo\nversion: 1.0.0\n", "catalog/demo/README.md": "# demo\n"})
	git(t, work, "add", ".")
	git(t, work, "commit", "-q", "-m", "demo 1.0.0")
	first := git(t, work, "rev-parse", "HEAD")
	git(t, work, "tag", "v1")
	writeFiles(t, work, map[string]string{"catalog/demo/metadata.yaml": "name: demo\nversion: 1.1.0\n"})
	git(t, work, "commit", "-q", "-am", "demo 1.1.0")
	git(t, work, "checkout", "-q", "-b", "next")
	writeFiles(t, work, map[string]string{"catalog/demo/metadata.yaml": "name: demo\nversion: 2.0.0-rc.1\n"})
	git(t, work, "commit", "-q", "-am", "demo 2.0.0-rc.1")
	git(t, work, "checkout", "-q", "main")
	git(t, root, "clone", "-q", "--bare", work, "addons.git")
	url := gitServer(t, root) + "/addons.git"

	for _, tt := range []struct{ ref, want string }{
		{"", "1.1.0"}, {"main", "1.1.0"}, {"next", "2.0.0-rc.1"}, {"v1", "1.0.0"}, {first, "1.0.0"},
	} {
		t.Run("ref="+tt.ref, func(t *testing.T) {
			reg := addon.NewGitRegistry("team", url, tt.ref, "catalog", addon.Credentials{})
			ix, err := reg.Index(context.Background())
			require.NoError(t, err)
			require.Len(t, ix.Entries["demo"], 1)
			require.Equal(t, tt.want, ix.Entries["demo"][0].Version)
			a, err := reg.Fetch(context.Background(), "demo", tt.want)
			require.NoError(t, err)
			require.Equal(t, "# demo\n", a.Readme())
		})
	}
	_, err := addon.NewGitRegistry("team", url, "no-such-branch", "catalog", addon.Credentials{}).Index(context.Background())
	require.ErrorContains(t, err, `git clone `+url+` (ref "no-such-branch")`)
	_, err = addon.NewGitRegistry("team", url, "main", "nowhere", addon.Credentials{}).Index(context.Background())
	require.ErrorContains(t, err, "no directory nowhere")
}

// TestHTTPRegistry: packages and an index written like `ferry addon package` and `index` do,
// served by a real file server; a package whose bytes do not match the index is refused.
func TestHTTPRegistry(t *testing.T) {
	src := writeAddon(t, with(nil))
	a, err := addon.Load(os.DirFS(src), src)
	require.NoError(t, err)
	pkg, err := addon.Package(a)
	require.NoError(t, err)
	again, err := addon.Package(a)
	require.NoError(t, err)
	require.Equal(t, pkg, again, "packaging is reproducible")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, addon.PackageName("demo", "1.0.0")), pkg, 0o644))
	ix, err := addon.WriteIndex(dir, time.Unix(0, 0))
	require.NoError(t, err)
	require.Equal(t, addon.Digest(pkg), ix.Entries["demo"][0].Digest)
	base := serve(t, http.FileServer(http.Dir(dir)))

	reg, err := addon.NewHTTPRegistry("web", base+"/", addon.Credentials{})
	require.NoError(t, err)
	got, err := reg.Fetch(context.Background(), "demo", "1.0.0")
	require.NoError(t, err)
	require.Equal(t, a.Files, got.Files)

	// The package changes under the index: refused.
	require.NoError(t, os.WriteFile(filepath.Join(dir, addon.PackageName("demo", "1.0.0")), append(pkg, 0), 0o644))
	_, err = reg.Fetch(context.Background(), "demo", "1.0.0")
	require.ErrorContains(t, err, "the index says "+addon.Digest(pkg))

	_, err = addon.NewHTTPRegistry("web", "ftp://example.com", addon.Credentials{})
	require.ErrorContains(t, err, "must be http(s)://HOST/PATH")
	_, err = addon.NewDirRegistry("x", os.DirFS(dir), dir).Fetch(context.Background(), "demo", "9.0.0")
	require.ErrorContains(t, err, "has no addon demo@9.0.0")
}

// TestArtifacts: an archive artifact is downloaded, checked against its digest and its files
// read; a mirror serves it offline; a changed artifact is refused.
func TestArtifacts(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"mod@v1/config/crd/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
		"mod@v1/config/other.txt":  "not yaml",
	} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	upstream := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(upstream, "mod", "@v"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(upstream, "mod", "@v", "v1.zip"), buf.Bytes(), 0o644))
	base := serve(t, http.FileServer(http.Dir(upstream)))
	url := base + "/mod/@v/v1.zip"
	meta := "name: demo\nversion: 1.0.0\nartifacts:\n  - name: crds\n    url: " + url + "\n    sha256: " + addon.Digest(buf.Bytes()) + "\n    paths: [\"mod@v1/config/crd/*.yaml\"]\n"
	dir := writeAddon(t, with(map[string]string{"metadata.yaml": meta}))
	a, err := addon.Load(os.DirFS(dir), dir)
	require.NoError(t, err)

	cache := t.TempDir()
	objs, err := addon.FetchArtifacts(context.Background(), a, addon.ArtifactOptions{CacheDir: cache})
	require.NoError(t, err)
	require.Len(t, objs["crds"], 2)
	r, err := a.Render(addon.RenderOptions{Namespace: "ferry-system", Artifacts: objs})
	require.NoError(t, err)
	require.Equal(t, "crds", r.Application.Spec.Components[0].Name, "artifacts come first")

	// The mirror: HOST/PATH of the URL; nothing is downloaded.
	mirror := t.TempDir()
	p, err := addon.MirrorPath(mirror, url)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	require.NoError(t, os.Remove(filepath.Join(upstream, "mod", "@v", "v1.zip")))
	objs, err = addon.FetchArtifacts(context.Background(), a, addon.ArtifactOptions{Mirror: mirror})
	require.NoError(t, err)
	require.Len(t, objs["crds"], 2)

	// A changed artifact is refused, from the mirror as from upstream.
	require.NoError(t, os.WriteFile(p, append(buf.Bytes(), '\n'), 0o644))
	_, err = addon.FetchArtifacts(context.Background(), a, addon.ArtifactOptions{Mirror: mirror})
	require.ErrorContains(t, err, "refusing it")
	_, err = addon.FetchArtifacts(context.Background(), a, addon.ArtifactOptions{Mirror: t.TempDir()})
	require.ErrorContains(t, err, "not in the mirror")
}
