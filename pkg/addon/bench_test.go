package addon_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferryhq/ferry/pkg/addon"
)

// writeCatalog writes n addons with versions each as packages and an index into dir; addon i
// depends on addon i+1 (a chain).
func writeCatalog(tb testing.TB, dir string, n, versions int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		for v := 0; v < versions; v++ {
			meta := fmt.Sprintf("name: addon-%03d\nversion: 1.%d.0\ndescription: addon number %d\n", i, v, i)
			if i+1 < n {
				meta += fmt.Sprintf("dependencies:\n  - {name: addon-%03d, version: \">=1.0.0 <2\"}\n", i+1)
			}
			src := filepath.Join(tb.TempDir(), "a")
			files := map[string]string{"metadata.yaml": meta, "README.md": "# addon\n", "resources/cm.yaml": fmt.Sprintf(
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: addon-%03d}\ndata: {v: \"%d\"}\n", i, v)}
			for name, body := range files {
				p := filepath.Join(src, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					tb.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					tb.Fatal(err)
				}
			}
			a, err := addon.Load(os.DirFS(src), src)
			if err != nil {
				tb.Fatal(err)
			}
			pkg, err := addon.Package(a)
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, addon.PackageName(a.Name(), a.Version())), pkg, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if _, err := addon.WriteIndex(dir, time.Unix(0, 0)); err != nil {
		tb.Fatal(err)
	}
}

// httpCatalog serves writeCatalog's n addons over loopback HTTP and returns a function that
// opens a fresh registry on it, as each command does.
func httpCatalog(b *testing.B, n, versions int) func() *addon.Registries {
	b.Helper()
	dir := b.TempDir()
	writeCatalog(b, dir, n, versions)
	base := serve(b, http.FileServer(http.Dir(dir)))
	return func() *addon.Registries {
		reg, err := addon.NewHTTPRegistry("web", base+"/", addon.Credentials{})
		if err != nil {
			b.Fatal(err)
		}
		return addon.NewRegistries(reg)
	}
}

// BenchmarkHTTPIndex200 reads a 200-addon, 600-version index over loopback HTTP and lists every
// addon's versions: what `ferry addon list` does before it reads the hub.
func BenchmarkHTTPIndex200(b *testing.B) {
	open := httpCatalog(b, 200, 3)
	b.ReportAllocs()
	for b.Loop() {
		regs := open()
		for i := 0; i < 200; i++ {
			c, err := regs.Candidates(context.Background(), fmt.Sprintf("addon-%03d", i))
			if err != nil || len(c) != 3 {
				b.Fatalf("addon-%03d: %v %d", i, err, len(c))
			}
		}
	}
}

// BenchmarkResolveHTTPChain10 resolves a 10-deep dependency chain (3 versions each) from an HTTP
// index and fetches every package, as enable does before it applies anything.
func BenchmarkResolveHTTPChain10(b *testing.B) {
	open := httpCatalog(b, 10, 3)
	b.ReportAllocs()
	for b.Loop() {
		regs := open()
		res, err := addon.Resolve(context.Background(), regs, addon.Request{Name: "addon-000"}, addon.ResolveOptions{})
		if err != nil || len(res.Order) != 10 {
			b.Fatal(err)
		}
		for _, c := range res.Order {
			if _, err := regs.Fetch(context.Background(), c); err != nil {
				b.Fatal(err)
			}
		}
	}
}
