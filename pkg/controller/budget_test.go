package controller_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/cue"
)

// recursiveTemplate declares a recursive definition, valid CUE that once sent Ferry's own
// annotation walker into unbounded recursion.
const recursiveTemplate = `
#A: {a?: #A, name?: string}
output: {
	apiVersion: "v1"
	kind:       "ConfigMap"
	metadata: name: context.name
	data: top: parameter.tree.name
}
parameter: tree: #A
`

// TestARunawayTemplateDoesNotStallTheController runs the controller as shipped (evaluator
// processes) with a namespace-local ComponentDefinition whose template does not finish for the
// parameters three apps give. Meanwhile 20 other apps converge, an app of a definition that
// declares a recursive CUE definition is delivered, and a Deployment of one of the 20 deleted by
// hand comes back within seconds. The runaway apps fail naming the component,
// its definition and the budget, and their evaluator processes are ended.
func TestARunawayTemplateDoesNotStallTheController(t *testing.T) {
	// runaway.cue takes size^8 steps: size 10 does not finish, size 1 renders at once.
	runaway, err := os.ReadFile("../cue/testdata/runaway.cue")
	require.NoError(t, err)
	h := startHub(t)
	ctx := context.Background()
	require.NoError(t, h.c.Create(ctx, &v1beta1.ComponentDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "runaway", Namespace: "default"},
		Spec:       v1beta1.ComponentDefinitionSpec{Schematic: &v1beta1.Schematic{CUE: &v1beta1.CUESchematic{Template: string(runaway)}}},
	}))
	require.NoError(t, h.c.Create(ctx, &v1beta1.ComponentDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "recursive", Namespace: "default"},
		Spec:       v1beta1.ComponentDefinitionSpec{Schematic: &v1beta1.Schematic{CUE: &v1beta1.CUESchematic{Template: recursiveTemplate}}},
	}))
	h.startController(controller.Options{Concurrency: 4, Evaluation: cue.Budget{Timeout: 2 * time.Second}})
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: recursive}
spec:
  components:
    - {name: tree, type: recursive, properties: {tree: {name: root, a: {name: child, a: {}}}}}
`)

	for i := range 3 {
		h.apply(fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: runaway-%d}
spec:
  components:
    - {name: loop, type: runaway, properties: {size: 10}}
`, i))
	}
	start := time.Now()
	for i := range 20 {
		h.apply(fmt.Sprintf(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: web-%d}
spec:
  components:
    - {name: web-%d, type: webservice, properties: {image: "nginx:%d"}}
`, i, i, i))
	}
	for i := range 20 {
		h.waitExists(&appsv1.Deployment{}, "default", fmt.Sprintf("web-%d", i))
	}
	t.Logf("20 apps delivered in %v beside 3 runaway ones", time.Since(start))
	tree := &corev1.ConfigMap{}
	require.Eventually(t, func() bool { return h.exists(tree, "default", "tree") }, 30*time.Second, 100*time.Millisecond,
		"the app of the recursive definition is delivered")
	require.Equal(t, "root", tree.Data["top"])

	for i := range 3 {
		app := h.waitApp(fmt.Sprintf("runaway-%d", i), "the budget reported", func(a *v1beta1.Application) bool {
			for _, c := range a.Status.Conditions {
				if strings.Contains(c.Message, "evaluation exceeded its time budget (2s)") {
					return true
				}
			}
			return false
		})
		var msg string
		for _, c := range app.Status.Conditions {
			if strings.Contains(c.Message, "budget") {
				msg = c.Message
			}
		}
		require.Contains(t, msg, `component "loop"`, "the message names the component")
		require.Contains(t, msg, `"runaway"`, "and its definition")
	}

	// Drift is still corrected while the runaway apps are retried.
	d := &appsv1.Deployment{}
	require.True(t, h.exists(d, "default", "web-7"))
	require.NoError(t, h.c.Delete(ctx, d))
	deleted := time.Now()
	require.Eventually(t, func() bool {
		again := &appsv1.Deployment{}
		return h.exists(again, "default", "web-7") && again.UID != d.UID
	}, 15*time.Second, 100*time.Millisecond, "the deleted Deployment comes back")
	t.Logf("deleted Deployment recreated in %v", time.Since(deleted))

	// A fixed app renders at once: the budget remembered the inputs, not the definition.
	h.apply(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: runaway-0}
spec:
  components:
    - {name: loop, type: runaway, properties: {size: 1}}
`)
	h.waitExists(&corev1.ConfigMap{}, "default", "loop")
}
