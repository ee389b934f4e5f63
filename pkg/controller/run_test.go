package controller

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTruncateKeepsStatusMessagesBelowTheAPILimit(t *testing.T) {
	require.Equal(t, "short", truncate("short"))
	long := strings.Repeat("component web on cluster-042/default: not healthy; ", 2000)
	got := truncate(long)
	require.LessOrEqual(t, len(got), maxMessage+20)
	require.True(t, strings.HasPrefix(long, strings.Split(got, " … (")[0]))
	require.Contains(t, got, "more bytes)")
	multibyte := strings.Repeat("é", maxMessage)
	require.True(t, strings.HasSuffix(strings.Split(truncate(multibyte), " … (")[0], "é"), "never cuts a character in two")
}
