package controller

import (
	"errors"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// countingSink counts the WithValues calls that reach it.
type countingSink struct {
	logr.LogSink
	withValues *int
}

func (c countingSink) WithValues(kv ...any) logr.LogSink {
	*c.withValues++
	return countingSink{LogSink: c.LogSink.WithValues(kv...), withValues: c.withValues}
}

func (c countingSink) WithCallDepth(depth int) logr.LogSink {
	return countingSink{LogSink: c.LogSink.(logr.CallDepthLogSink).WithCallDepth(depth), withValues: c.withValues}
}

// TestReconcileLogger: a reconcile's logger carries the controller's and the app's values and
// the caller's line, like controller-runtime's own, but hands them to the real logger only
// when a message is written.
func TestReconcileLogger(t *testing.T) {
	var lines []string
	real := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{LogCaller: funcr.All, Verbosity: 0})
	calls := 0
	base := real.WithSink(countingSink{LogSink: real.GetSink(), withValues: &calls})
	log := reconcileLogger(base)(&reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "shop", Name: "web"}})
	calls = 0
	log = log.WithValues("reconcileID", "r1").WithName("settled")
	log.V(1).Info("not written")
	require.Zero(t, calls, "nothing was logged: no values reached the logger")
	require.Empty(t, lines)

	log.Info("checked", "objects", 5)
	log.Error(errors.New("boom"), "failed")
	require.Len(t, lines, 2)
	for _, l := range lines {
		require.Contains(t, l, `"controller"="application"`)
		require.Contains(t, l, `"namespace"="shop"`)
		require.Contains(t, l, `"name"="web"`)
		require.Contains(t, l, `"reconcileID"="r1"`)
		require.Contains(t, l, "settled")
		require.Contains(t, l, "lazylog_internal_test.go", "the caller is who logged")
	}
	require.Contains(t, lines[0], `"objects"=5`)
	require.Contains(t, lines[1], `"error"="boom"`)
}
