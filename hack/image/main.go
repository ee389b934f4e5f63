// Command image builds ferry-controller's OCI image without Docker into a tarball (make image):
// a static binary on an empty base, run as a non-root user, ready for a read-only root
// filesystem. Load it with `docker load -i`, `podman load -i` or `kind load image-archive`, or
// push it with `crane push`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferryhq/ferry/pkg/image"
)

func main() {
	out := flag.String("o", "bin/ferry-controller-image.tar", "the image tarball to write")
	version := flag.String("version", "dev", "image tag and version label")
	revision := flag.String("revision", "", "source revision label")
	flag.Parse()
	if err := run(*out, *version, *revision); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(out, version, revision string) error {
	dir, err := os.MkdirTemp("", "ferry-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "ferry-controller")
	if err := image.BuildBinary(context.Background(), ".", bin, version, ""); err != nil {
		return err
	}
	img, err := image.Build(image.Options{Binary: bin, Version: version, Revision: revision})
	if err != nil {
		return err
	}
	if err := image.WriteTarball(out, version, img); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s:%s (%s)\n", out, image.Repository, version, digest)
	return nil
}
