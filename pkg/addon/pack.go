package addon

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// maxPackageSize bounds what a package may unpack to, so a hostile package cannot fill memory.
const maxPackageSize = 64 << 20

// PackageName is the file name of an addon package: NAME-VERSION.tgz.
func PackageName(name, version string) string { return name + "-" + version + ".tgz" }

// Package writes the addon as a gzipped tar of NAME/<files>, reproducibly: the same files give
// the same bytes (sorted, zero times and owners).
func Package(a *Addon) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, p := range sortedKeys(a.Files) {
		data := a.Files[p]
		hdr := &tar.Header{Name: path.Join(a.Name(), p), Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LoadPackage reads a package made by Package (or any .tgz whose files sit under one top
// directory). origin names it in errors.
func LoadPackage(data []byte, origin string) (*Addon, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzipped tar: %w", origin, err)
	}
	tr := tar.NewReader(gz)
	a := &Addon{Origin: origin, Files: map[string][]byte{}}
	top := ""
	var total int64
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", origin, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(hdr.Name)
		if path.IsAbs(name) || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("%s: file %s points outside the package", origin, hdr.Name)
		}
		dir, rest, ok := strings.Cut(name, "/")
		if !ok {
			return nil, fmt.Errorf("%s: file %s is not under the addon's directory", origin, hdr.Name)
		}
		if top == "" {
			top = dir
		} else if dir != top {
			return nil, fmt.Errorf("%s: files under %s/ and %s/; a package holds one addon", origin, top, dir)
		}
		total += hdr.Size
		if total > maxPackageSize {
			return nil, fmt.Errorf("%s: unpacks to more than %d MiB", origin, maxPackageSize>>20)
		}
		body, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", origin, name, err)
		}
		a.Files[rest] = body
	}
	return fromFiles(a)
}

// Digest is the sha256 of data in hex.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// WriteIndex writes dir/index.yaml listing every NAME-VERSION.tgz package in dir, with its
// metadata and digest, and returns it. A package that does not load is an error.
func WriteIndex(dir string, now time.Time) (*Index, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil {
		return nil, err
	}
	ix := &Index{APIVersion: IndexAPIVersion, Generated: now.UTC().Format(time.RFC3339), Entries: map[string][]Entry{}}
	var errs []error
	for _, f := range matches {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		a, err := LoadPackage(data, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e := entryOf(a.Metadata)
		e.URLs = []string{filepath.Base(f)}
		e.Digest = Digest(data)
		ix.add(e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ix.sort()
	out, err := yaml.Marshal(ix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.yaml"), out, 0o644); err != nil {
		return nil, err
	}
	return ix, nil
}
