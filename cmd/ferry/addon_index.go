package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
)

func newAddonIndexCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "index DIR",
		Short: "Write DIR/index.yaml listing every addon package (NAME-VERSION.tgz) in DIR: an HTTP registry's index",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give one directory of packages")}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			ix, err := addon.WriteIndex(args[0], time.Now())
			if err != nil {
				return err
			}
			n := 0
			for _, es := range ix.Entries {
				n += len(es)
			}
			fmt.Fprintf(s.out, "%s written: %d addons, %d versions\n", filepath.Join(args[0], "index.yaml"), len(ix.Entries), n)
			return nil
		},
	}
}
