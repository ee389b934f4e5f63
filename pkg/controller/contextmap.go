package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
)

// Keys of the workflow context ConfigMap.
const (
	contextKeyOutputs = "outputs"
	contextKeyLedger  = "ledger"
	contextKeyRun     = "run"
)

// ContextConfigMapName names the ConfigMap that keeps an Application's step outputs and the
// ledger of sent notifications.
func ContextConfigMapName(app string) string { return "workflow-" + app + "-context" }

// workflowContext is the context ConfigMap of one workflow run, read from the API server (never
// a cache: what it says guards side effects). It is also the run's Ledger: Put writes through,
// so a notification recorded as sent stays recorded even if the controller dies right after.
type workflowContext struct {
	c   client.Client
	cm  *corev1.ConfigMap
	run string

	Outputs map[string]any
	ledger  map[string]string
}

// emptyWorkflowContext is the context of a workflow that keeps nothing in it.
func emptyWorkflowContext() *workflowContext {
	return &workflowContext{Outputs: map[string]any{}, ledger: map[string]string{}}
}

// loadWorkflowContext reads the ConfigMap of app; entries of another run (a restart or a new
// revision) are dropped.
func loadWorkflowContext(ctx context.Context, c client.Client, reader client.Reader, app *v1beta1.Application, run string) (*workflowContext, error) {
	wc := &workflowContext{c: c, run: run, Outputs: map[string]any{}, ledger: map[string]string{}}
	cm := &corev1.ConfigMap{}
	err := reader.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: ContextConfigMapName(app.Name)}, cm)
	switch {
	case apierrors.IsNotFound(err):
		wc.cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Namespace: app.Namespace, Name: ContextConfigMapName(app.Name),
			Labels: map[string]string{v1beta1.LabelAppName: app.Name, v1beta1.LabelAppNamespace: app.Namespace},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1beta1.GroupVersion.String(), Kind: "Application",
				Name: app.Name, UID: app.UID}},
		}}
		return wc, nil
	case err != nil:
		return nil, fmt.Errorf("read workflow context: %w", err)
	}
	wc.cm = cm
	if cm.Data[contextKeyRun] != run {
		return wc, nil
	}
	if s := cm.Data[contextKeyOutputs]; s != "" {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var outputs map[string]any
		if err := dec.Decode(&outputs); err != nil {
			return nil, fmt.Errorf("workflow context %s: outputs: %w", cm.Name, err)
		}
		for k, v := range outputs {
			wc.Outputs[k] = cue.NormalizeJSON(v)
		}
	}
	if s := cm.Data[contextKeyLedger]; s != "" {
		if err := json.Unmarshal([]byte(s), &wc.ledger); err != nil {
			return nil, fmt.Errorf("workflow context %s: ledger: %w", cm.Name, err)
		}
	}
	return wc, nil
}

// Get implements cuestep.Ledger.
func (w *workflowContext) Get(_ context.Context, key string) (string, bool, error) {
	v, ok := w.ledger[key]
	return v, ok, nil
}

// Put implements cuestep.Ledger: the entry is stored before Put returns.
func (w *workflowContext) Put(ctx context.Context, key, value string) error {
	w.ledger[key] = value
	return w.save(ctx)
}

// SaveOutputs stores outputs when they changed.
func (w *workflowContext) SaveOutputs(ctx context.Context, outputs map[string]any) error {
	if reflect.DeepEqual(outputs, w.Outputs) || (len(outputs) == 0 && len(w.Outputs) == 0) {
		return nil
	}
	w.Outputs = maps.Clone(outputs)
	return w.save(ctx)
}

func (w *workflowContext) save(ctx context.Context) error {
	outputs, err := json.Marshal(w.Outputs)
	if err != nil {
		return fmt.Errorf("workflow context: outputs: %w", err)
	}
	ledger, err := json.Marshal(w.ledger)
	if err != nil {
		return err
	}
	w.cm.Data = map[string]string{contextKeyRun: w.run, contextKeyOutputs: string(outputs), contextKeyLedger: string(ledger)}
	if w.cm.ResourceVersion == "" {
		err = w.c.Create(ctx, w.cm)
	} else {
		err = w.c.Update(ctx, w.cm)
	}
	if err != nil {
		return fmt.Errorf("write workflow context %s: %w", w.cm.Name, err)
	}
	return nil
}
