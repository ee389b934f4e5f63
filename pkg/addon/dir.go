package addon

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
)

// DirRegistry is a registry in a file tree: every directory holding metadata.yaml (at most two
// levels down, e.g. NAME/ or NAME/VERSION/) is an addon, and every NAME-VERSION.tgz package
// beside them too. The built-in registry is one over the embedded addons/ folder.
type DirRegistry struct {
	name   string
	fsys   fs.FS
	origin string

	mu    sync.Mutex
	index *Index
}

// NewDirRegistry returns a registry named name over fsys; origin (e.g. the directory's path)
// prefixes file names in errors.
func NewDirRegistry(name string, fsys fs.FS, origin string) *DirRegistry {
	return &DirRegistry{name: name, fsys: fsys, origin: origin}
}

// Name implements Registry.
func (d *DirRegistry) Name() string { return d.name }

// Index implements Registry. Addons whose metadata does not load are listed in Problems. The
// tree is read once per DirRegistry (one command).
func (d *DirRegistry) Index(context.Context) (*Index, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.index != nil {
		return d.index, nil
	}
	ix, err := d.readIndex()
	if err != nil {
		return nil, err
	}
	d.index = ix
	return ix, nil
}

func (d *DirRegistry) readIndex() (*Index, error) {
	ix := &Index{APIVersion: IndexAPIVersion, Entries: map[string][]Entry{}}
	err := fs.WalkDir(d.fsys, ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		depth := strings.Count(p, "/")
		if p == "." {
			depth = -1
		}
		if de.IsDir() {
			if p != "." && strings.HasPrefix(de.Name(), ".") || depth >= 2 {
				return fs.SkipDir
			}
			meta := path.Join(p, MetadataFile)
			data, err := fs.ReadFile(d.fsys, meta)
			if err != nil {
				return nil // not an addon; look further down
			}
			m, err := ParseMetadata(path.Join(d.origin, meta), data)
			if err != nil {
				ix.Problems = append(ix.Problems, err.Error())
				return fs.SkipDir
			}
			e := entryOf(m)
			e.path = p
			ix.add(e)
			return fs.SkipDir
		}
		if strings.HasSuffix(p, ".tgz") {
			data, err := fs.ReadFile(d.fsys, p)
			if err != nil {
				return err
			}
			a, err := LoadPackage(data, path.Join(d.origin, p))
			if err != nil {
				ix.Problems = append(ix.Problems, err.Error())
				return nil
			}
			e := entryOf(a.Metadata)
			e.path = p
			ix.add(e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.origin, err)
	}
	ix.sort()
	return ix, nil
}

// Fetch implements Registry.
func (d *DirRegistry) Fetch(ctx context.Context, name, version string) (*Addon, error) {
	ix, err := d.Index(ctx)
	if err != nil {
		return nil, err
	}
	e, ok := ix.find(name, version)
	if !ok {
		return nil, fmt.Errorf("%s has no addon %s@%s", d.origin, name, version)
	}
	if strings.HasSuffix(e.path, ".tgz") {
		data, err := fs.ReadFile(d.fsys, e.path)
		if err != nil {
			return nil, err
		}
		return LoadPackage(data, path.Join(d.origin, e.path))
	}
	sub := d.fsys
	if e.path != "." {
		if sub, err = fs.Sub(d.fsys, e.path); err != nil {
			return nil, err
		}
	}
	return Load(sub, path.Join(d.origin, e.path))
}

// subFS is fs.Sub that fails when dir does not exist.
func subFS(fsys fs.FS, dir string) (fs.FS, error) {
	if _, err := fs.Stat(fsys, dir); err != nil {
		return nil, fmt.Errorf("no directory %s", dir)
	}
	return fs.Sub(fsys, dir)
}
