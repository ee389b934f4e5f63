package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
)

type addonPackageOptions struct {
	out   string
	push  string
	creds addon.Credentials
}

func newAddonPackageCmd(s streams) *cobra.Command {
	o := &addonPackageOptions{}
	cmd := &cobra.Command{
		Use:   "package DIR [-d OUTDIR] [--push oci://HOST/REPOSITORY]",
		Short: "Write an addon as OUTDIR/NAME-VERSION.tgz (checked first, reproducible bytes); --push also pushes it to an OCI registry",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give one addon directory")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runAddonPackage(cmd.Context(), s, o, args[0]) },
	}
	cmd.Flags().StringVarP(&o.out, "destination", "d", ".", "directory to write the package to")
	cmd.Flags().StringVar(&o.push, "push", "", "also push it to this OCI repository, tagged NAME-VERSION (a loopback registry over plain HTTP)")
	cmd.Flags().StringVar(&o.creds.Username, "username", "", "user name for --push")
	cmd.Flags().StringVar(&o.creds.Password, "password", "", "password for --push")
	cmd.Flags().StringVar(&o.creds.Token, "token", "", "bearer token for --push")
	return cmd
}

func runAddonPackage(ctx context.Context, s streams, o *addonPackageOptions, dir string) error {
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
	if o.push == "" {
		return nil
	}
	tag, err := addon.PushOCI(ctx, o.push, a, data, o.creds)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "pushed to %s:%s\n", strings.TrimPrefix(o.push, "oci://"), tag)
	return nil
}
