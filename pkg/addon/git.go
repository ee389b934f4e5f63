package addon

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/go-git/go-billy/v5/helper/iofs"
	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

// GitRegistry is a directory of addons in a Git repository at a branch, tag or commit.
type GitRegistry struct {
	name string
	url  string
	ref  string
	dir  string
	auth Credentials

	once  sync.Once
	inner *DirRegistry
	err   error
}

// NewGitRegistry returns a registry over repo url at ref (a branch, tag or commit; "" is the
// default branch), in subdirectory dir.
func NewGitRegistry(name, url, ref, dir string, auth Credentials) *GitRegistry {
	return &GitRegistry{name: name, url: url, ref: ref, dir: strings.Trim(path.Clean("/"+dir), "/"), auth: auth}
}

// Name implements Registry.
func (g *GitRegistry) Name() string { return g.name }

func (g *GitRegistry) authMethod() transport.AuthMethod {
	switch {
	case g.auth.Token != "":
		return &githttp.BasicAuth{Username: "ferry", Password: g.auth.Token}
	case g.auth.Username != "":
		return &githttp.BasicAuth{Username: g.auth.Username, Password: g.auth.Password}
	}
	return nil
}

// checkout clones the repository in memory, once per GitRegistry.
func (g *GitRegistry) checkout(ctx context.Context) (*DirRegistry, error) {
	g.once.Do(func() {
		fs := memfs.New()
		opts := &git.CloneOptions{URL: g.url, Auth: g.authMethod(), Tags: git.NoTags}
		commit := isCommit(g.ref)
		if g.ref != "" && !commit {
			opts.SingleBranch, opts.Depth = true, 1
			opts.ReferenceName = plumbing.NewBranchReferenceName(g.ref)
		}
		repo, err := git.CloneContext(ctx, memory.NewStorage(), fs, opts)
		if err != nil && g.ref != "" && !commit {
			// Not a branch: try it as a tag.
			fs = memfs.New()
			opts.ReferenceName = plumbing.NewTagReferenceName(g.ref)
			repo, err = git.CloneContext(ctx, memory.NewStorage(), fs, opts)
		}
		if err != nil {
			g.err = fmt.Errorf("git clone %s (ref %q): %w", g.url, g.ref, err)
			return
		}
		if commit {
			wt, err := repo.Worktree()
			if err == nil {
				err = wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(g.ref)})
			}
			if err != nil {
				g.err = fmt.Errorf("git checkout %s in %s: %w", g.ref, g.url, err)
				return
			}
		}
		fsys := iofs.New(fs)
		origin := g.url
		if g.dir != "" {
			origin += "//" + g.dir
			sub, err := subFS(fsys, g.dir)
			if err != nil {
				g.err = fmt.Errorf("%s: %w", origin, err)
				return
			}
			g.inner = NewDirRegistry(g.name, sub, origin)
			return
		}
		g.inner = NewDirRegistry(g.name, fsys, origin)
	})
	return g.inner, g.err
}

func isCommit(ref string) bool {
	if len(ref) != 40 {
		return false
	}
	for _, c := range ref {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Index implements Registry.
func (g *GitRegistry) Index(ctx context.Context) (*Index, error) {
	d, err := g.checkout(ctx)
	if err != nil {
		return nil, err
	}
	return d.Index(ctx)
}

// Fetch implements Registry.
func (g *GitRegistry) Fetch(ctx context.Context, name, version string) (*Addon, error) {
	d, err := g.checkout(ctx)
	if err != nil {
		return nil, err
	}
	return d.Fetch(ctx, name, version)
}
