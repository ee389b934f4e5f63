package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/testenv"
)

func TestParseClusters(t *testing.T) {
	got, err := ParseClusters("cluster1=env=staging,c2=env=prod+region=eu,bare")
	require.NoError(t, err)
	require.Equal(t, []testenv.ClusterSpec{
		{Name: "cluster1", Labels: map[string]string{"env": "staging"}},
		{Name: "c2", Labels: map[string]string{"env": "prod", "region": "eu"}},
		{Name: "bare", Labels: map[string]string{}},
	}, got)

	none, err := ParseClusters("")
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = ParseClusters("c1=env")
	require.EqualError(t, err, `--clusters: label "env" of cluster c1 must be key=value`)
	_, err = ParseClusters("=env=x")
	require.Error(t, err)
}

func TestUsageErrors(t *testing.T) {
	require.Equal(t, 2, run(nil, nil, discard{}))
	require.Equal(t, 2, run([]string{"sideways"}, discard{}, discard{}))
	require.Equal(t, 2, run([]string{"down"}, discard{}, discard{}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
