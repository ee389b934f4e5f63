package main

import (
	"github.com/ferryhq/ferry/pkg/definition"
)

// loadDefinitions returns the built-in definitions overridden by those in dirs, in order.
func loadDefinitions(dirs []string) (*definition.Registry, error) {
	reg, err := definition.Builtin()
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if err := reg.LoadDir(d); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
