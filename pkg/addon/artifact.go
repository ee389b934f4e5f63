package addon

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// maxArtifactSize bounds a downloaded artifact.
const maxArtifactSize = 256 << 20

// ArtifactOptions say where artifacts come from.
type ArtifactOptions struct {
	// Mirror is an offline copy laid out as HOST/PATH of each artifact's URL (what
	// `wget --force-directories URL` makes); with it nothing is downloaded.
	Mirror string
	// CacheDir keeps downloads by digest; "" downloads every time.
	CacheDir string
	// Client downloads; http.DefaultClient with a timeout when nil.
	Client *http.Client
}

// FetchArtifacts fetches every artifact of a, checks its sha256, and returns the objects of
// each by artifact name.
func FetchArtifacts(ctx context.Context, a *Addon, o ArtifactOptions) (map[string][]map[string]any, error) {
	out := map[string][]map[string]any{}
	for _, art := range a.Metadata.Artifacts {
		data, where, err := o.fetch(ctx, art)
		if err != nil {
			return nil, fmt.Errorf("addon %s: artifact %s: %w", a.Ref(), art.Name, err)
		}
		if got := Digest(data); got != art.SHA256 {
			return nil, fmt.Errorf("addon %s: artifact %s: %s has sha256 %s, %s says %s; refusing it", a.Ref(), art.Name, where, got, MetadataFile, art.SHA256)
		}
		objs, err := artifactObjects(art, data, where)
		if err != nil {
			return nil, fmt.Errorf("addon %s: artifact %s: %w", a.Ref(), art.Name, err)
		}
		out[art.Name] = objs
	}
	return out, nil
}

// MirrorPath is where an artifact's URL lives in a mirror directory.
func MirrorPath(mirror, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	clean := path.Clean("/" + u.Path)
	return filepath.Join(mirror, u.Host, filepath.FromSlash(clean)), nil
}

func (o ArtifactOptions) fetch(ctx context.Context, art Artifact) ([]byte, string, error) {
	if o.Mirror != "" {
		p, err := MirrorPath(o.Mirror, art.URL)
		if err != nil {
			return nil, "", err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, "", fmt.Errorf("not in the mirror: %w", err)
		}
		return data, p, nil
	}
	cached := ""
	if o.CacheDir != "" {
		cached = filepath.Join(o.CacheDir, art.SHA256)
		if data, err := os.ReadFile(cached); err == nil && Digest(data) == art.SHA256 {
			return data, art.URL, nil
		}
	}
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, art.URL, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("download (use --mirror DIR on a hub without network): %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s: %s", art.URL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxArtifactSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", art.URL, err)
	}
	if len(data) > maxArtifactSize {
		return nil, "", fmt.Errorf("GET %s: larger than %d MiB", art.URL, maxArtifactSize>>20)
	}
	if cached != "" && Digest(data) == art.SHA256 {
		if err := os.MkdirAll(o.CacheDir, 0o755); err == nil {
			_ = os.WriteFile(cached, data, 0o644)
		}
	}
	return data, art.URL, nil
}

// artifactObjects reads the YAML files an artifact holds: the file itself, or the files of a
// .zip or .tar.gz archive that match its paths.
func artifactObjects(art Artifact, data []byte, where string) ([]map[string]any, error) {
	files, err := archiveFiles(art.URL, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if files == nil {
		return ReadObjects(where, data)
	}
	if len(art.Paths) == 0 {
		return nil, fmt.Errorf("%s is an archive: say which files hold the objects with paths", where)
	}
	var out []map[string]any
	for _, pattern := range art.Paths {
		var matched []string
		for name := range files {
			if ok, _ := path.Match(pattern, name); ok {
				matched = append(matched, name)
			}
		}
		if len(matched) == 0 {
			return nil, fmt.Errorf("%s: no file matches %q", where, pattern)
		}
		sort.Strings(matched)
		for _, name := range matched {
			objs, err := ReadObjects(where+"!"+name, files[name])
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

// archiveFiles unpacks a .zip or .tar.gz; nil for anything else.
func archiveFiles(rawURL string, data []byte) (map[string][]byte, error) {
	lower := strings.ToLower(rawURL)
	out := map[string][]byte{}
	var total int64
	switch {
	case strings.HasSuffix(lower, ".zip"):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		for _, f := range zr.File {
			if f.FileInfo().IsDir() || !isYAML(f.Name) {
				continue
			}
			total += int64(f.UncompressedSize64)
			if total > maxArtifactSize {
				return nil, fmt.Errorf("unpacks to more than %d MiB", maxArtifactSize>>20)
			}
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			body, err := io.ReadAll(io.LimitReader(rc, maxArtifactSize))
			rc.Close()
			if err != nil {
				return nil, err
			}
			out[f.Name] = body
		}
		return out, nil
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		gz, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(gz)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			if err != nil {
				return nil, err
			}
			if hdr.Typeflag != tar.TypeReg || !isYAML(hdr.Name) {
				continue
			}
			total += hdr.Size
			if total > maxArtifactSize {
				return nil, fmt.Errorf("unpacks to more than %d MiB", maxArtifactSize>>20)
			}
			body, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
			if err != nil {
				return nil, err
			}
			out[path.Clean(hdr.Name)] = body
		}
	}
	return nil, nil
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}
