package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUIListensOnLoopbackOnly: the console acts with the caller's credentials, so `ferry ui`
// refuses an address other machines could reach.
func TestUIListensOnLoopbackOnly(t *testing.T) {
	tests := []struct{ address, want string }{
		{"0.0.0.0:8090", "listens on loopback only"},
		{"192.168.1.10:8090", "listens on loopback only"},
		{"example.com:80", "listens on loopback only"},
		{"8090", "missing port in address"},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			code, _, errOut := run(t, "", "ui", "--no-open", "--address", tt.address)
			require.Equal(t, exitUsageError, code, errOut)
			require.Contains(t, errOut, tt.want)
		})
	}
}
