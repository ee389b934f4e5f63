package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
)

type addonPackageOptions struct{ out string }

func newAddonPackageCmd(s streams) *cobra.Command {
	o := &addonPackageOptions{}
	cmd := &cobra.Command{
		Use:   "package DIR [-d OUTDIR]",
		Short: "Write an addon as OUTDIR/NAME-VERSION.tgz (checked first, reproducible bytes)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give one addon directory")}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return runAddonPackage(s, o, args[0]) },
	}
	cmd.Flags().StringVarP(&o.out, "destination", "d", ".", "directory to write the package to")
	return cmd
}

func runAddonPackage(s streams, o *addonPackageOptions, dir string) error {
	a, err := addon.Load(os.DirFS(dir), dir)
	if err != nil {
		return err
	}
	data, err := addon.Package(a)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	p := filepath.Join(o.out, addon.PackageName(a.Name(), a.Version()))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "%s written (%d bytes, sha256 %s)\n", p, len(data), addon.Digest(data))
	return nil
}
