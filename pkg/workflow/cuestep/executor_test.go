package cuestep

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// memKube is a cluster in memory.
type memKube struct {
	mu      sync.Mutex
	objects map[string]map[string]any
	applies int
}

func key(cluster string, obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%s/%v/%v/%v", cluster, obj["kind"], meta["namespace"], meta["name"])
}

func (k *memKube) Apply(_ context.Context, cluster string, obj map[string]any) (map[string]any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.applies++
	live := map[string]any{}
	for f, v := range obj {
		live[f] = v
	}
	if old, ok := k.objects[key(cluster, obj)]; ok && old["status"] != nil {
		live["status"] = old["status"]
	}
	k.objects[key(cluster, obj)] = live
	return live, nil
}

func (k *memKube) Read(_ context.Context, cluster string, obj map[string]any) (map[string]any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	live, ok := k.objects[key(cluster, obj)]
	if !ok {
		return nil, fmt.Errorf("%s not found", key(cluster, obj))
	}
	return live, nil
}

func (k *memKube) List(_ context.Context, cluster, _, kind, namespace string, labels map[string]string) ([]map[string]any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []map[string]any
	for _, obj := range k.objects {
		meta, _ := obj["metadata"].(map[string]any)
		if namespace == "" {
			namespace, _ := meta["namespace"].(string) // every namespace
			if key(cluster, obj) != key(cluster, map[string]any{"kind": kind, "metadata": map[string]any{"namespace": namespace, "name": meta["name"]}}) {
				continue
			}
		} else if key(cluster, obj) != key(cluster, map[string]any{"kind": kind, "metadata": map[string]any{"namespace": namespace, "name": meta["name"]}}) {
			continue
		}
		have, _ := meta["labels"].(map[string]any)
		matches := true
		for k, v := range labels {
			matches = matches && have[k] == v
		}
		if matches {
			out = append(out, obj)
		}
	}
	return out, nil
}

func (k *memKube) Delete(_ context.Context, cluster string, obj map[string]any) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.objects, key(cluster, obj))
	return nil
}

type memMailer struct{ sent []Mail }

func (m *memMailer) Send(_ context.Context, mail Mail) error {
	m.sent = append(m.sent, mail)
	return nil
}

func stepDef(t *testing.T, name, template string) *definition.Definition {
	t.Helper()
	d, err := definition.ParseCUE(name+".cue", []byte(fmt.Sprintf("%s\n%q: {type: \"workflow-step\", description: \"test\"}\n", template, name)))
	require.NoError(t, err)
	return d
}

func execute(t *testing.T, e *Executor, props map[string]any, id string, resumed bool) workflow.Result {
	t.Helper()
	res, err := e.Execute(context.Background(), workflow.StepInput{
		Step:        workflow.Step{Name: "s", Type: e.def.Name, Properties: props},
		ExecutionID: id, Resumed: resumed,
		Context: map[string]any{"appName": "shop", "namespace": "default"},
	})
	require.NoError(t, err)
	return res
}

func TestApplyThenWaitForStatus(t *testing.T) {
	kube := &memKube{objects: map[string]map[string]any{}}
	e, err := New(stepDef(t, "apply-and-wait", `
import "vela/op"

template: {
	apply: op.#Apply & {
		value: {
			apiVersion: "v1"
			kind:       "ConfigMap"
			metadata: {name: parameter.name, namespace: context.namespace}
			data: app: context.appName
		}
	}
	wait: op.#ConditionalWait & {
		continue: apply.value.status.ready
		message:  "waiting for \(parameter.name)"
	}
	parameter: name: string
}`), Options{Kube: kube})
	require.NoError(t, err)

	res := execute(t, e, map[string]any{"name": "cm"}, "s-r0-a0", false)
	require.Equal(t, workflow.OutcomeWait, res.Outcome)
	require.Contains(t, res.Message, "waiting for wait:", "no status yet")

	kube.objects["/ConfigMap/default/cm"]["status"] = map[string]any{"ready": false}
	res = execute(t, e, map[string]any{"name": "cm"}, "s-r0-a0", false)
	require.Equal(t, workflow.OutcomeWait, res.Outcome)
	require.Equal(t, "waiting for cm", res.Message)
	require.Equal(t, "shop", kube.objects["/ConfigMap/default/cm"]["data"].(map[string]any)["app"])

	kube.objects["/ConfigMap/default/cm"]["status"] = map[string]any{"ready": true}
	res = execute(t, e, map[string]any{"name": "cm"}, "s-r0-a0", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.Equal(t, true, res.Value["apply"].(map[string]any)["value"].(map[string]any)["status"].(map[string]any)["ready"])
	require.Equal(t, 3, kube.applies, "apply is idempotent and repeated with the step")
}

func TestReadMissingThenFail(t *testing.T) {
	e, err := New(stepDef(t, "read-or-fail", `
import op "vela/op"

template: {
	read: op.#Read & {value: {apiVersion: "v1", kind: "Secret", metadata: {name: "creds", namespace: "default"}}}
	if read.err != _|_ {
		stop: op.#Fail & {message: "secret creds is missing"}
	}
	parameter: {}
}`), Options{Kube: &memKube{objects: map[string]map[string]any{}}})
	require.NoError(t, err)
	res := execute(t, e, nil, "id", false)
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Equal(t, "secret creds is missing", res.Message)
}

func TestWebhookIsSentOncePerExecution(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Header.Get("X-Ferry-Execution-Id")+" "+string(body))
		mu.Unlock()
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer server.Close()
	u, _ := url.Parse(server.URL)

	def := stepDef(t, "hook", `
import "vela/op"

template: {
	post: op.#HTTPPost & {
		url: parameter.url
		request: {
			body: "{\"text\": \"\(context.appName) deployed\"}"
			header: "Content-Type": "application/json"
		}
	}
	check: op.#ConditionalWait & {continue: post.response.statusCode == 200}
	parameter: url: string
}`)
	ledger := &MemoryLedger{}
	e, err := New(def, Options{HTTP: NewHTTP(HTTPOptions{AllowedHosts: []string{u.Hostname()}, AllowedNetworks: loopback}), Ledger: ledger})
	require.NoError(t, err)
	props := map[string]any{"url": server.URL}
	require.Equal(t, workflow.OutcomeSucceeded, execute(t, e, props, "notify-r0-a0", false).Outcome)
	// The same execution again (its result was lost in a crash): not sent again.
	res := execute(t, e, props, "notify-r0-a0", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	// A retry is a new execution: sent.
	require.Equal(t, workflow.OutcomeSucceeded, execute(t, e, props, "notify-r0-a1", false).Outcome)
	require.Equal(t, []string{`notify-r0-a0 {"text": "shop deployed"}`, `notify-r0-a1 {"text": "shop deployed"}`}, bodies)

	// An execution that stopped between sending and recording the answer left its intent:
	// the repeat does not send a second time, and says why.
	require.NoError(t, ledger.Put(context.Background(), "notify-r0-a2/post", pendingEntry))
	res = execute(t, e, props, "notify-r0-a2", false)
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Contains(t, res.Message, "not sent twice")
	require.Len(t, bodies, 2)

	denied, err := New(def, Options{HTTP: NewHTTP(HTTPOptions{AllowedHosts: []string{"hooks.example.com"}})})
	require.NoError(t, err)
	res = execute(t, denied, props, "x", false)
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Contains(t, res.Message, "127.0.0.1: host is not on the outbound allow-list (the controller's --http-allowed-hosts)")
}

func TestControlActions(t *testing.T) {
	tests := []struct {
		name     string
		template string
		resumed  bool
		want     workflow.Outcome
		message  string
	}{
		{"suspend", `s: op.#Suspend & {message: "approve me"}`, false, workflow.OutcomeSuspend, "approve me"},
		{"suspend resumed", `s: op.#Suspend & {message: "approve me"}
after: op.#Message & {message: "approved"}`, true, workflow.OutcomeSucceeded, "approved"},
		{"break skips the rest", `b: op.#Break & {message: "nothing to do"}
f: op.#Fail & {message: "not reached"}`, false, workflow.OutcomeSucceeded, "nothing to do"},
		{"fail", `f: op.#Fail & {message: "no"}`, false, workflow.OutcomeFail, "no"},
		{"wait on a missing value", `w: op.#ConditionalWait & {continue: parameter.never}`, false, workflow.OutcomeWait, "waiting for w"},
		{"blocked action", `m: op.#Message & {message: parameter.missing}`, false, workflow.OutcomeFail, "action m (message) cannot run"},
		{"no provider", `a: op.#Apply & {value: {kind: "X"}}`, false, workflow.OutcomeFail, "no cluster access configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(stepDef(t, "control", "import \"vela/op\"\n\ntemplate: {\n"+tt.template+"\nparameter: {never?: bool, missing?: string}\n}\n"), Options{})
			require.NoError(t, err)
			res := execute(t, e, nil, "id", tt.resumed)
			require.Equal(t, tt.want, res.Outcome)
			require.Contains(t, res.Message, tt.message)
		})
	}
}

func TestSendEmailOnce(t *testing.T) {
	mailer := &memMailer{}
	e, err := New(stepDef(t, "mail", `
import "vela/op"

template: {
	send: op.#SendEmail & {
		from: {address: "ferry@example.com", host: "smtp.example.com"}
		to: parameter.to
		content: {subject: "\(context.appName) is live", body: "done"}
	}
	parameter: to: [...string]
}`), Options{Mailer: mailer})
	require.NoError(t, err)
	props := map[string]any{"to": []any{"ops@example.com"}}
	execute(t, e, props, "mail-r0-a0", false)
	execute(t, e, props, "mail-r0-a0", false)
	require.Len(t, mailer.sent, 1)
	require.Equal(t, Mail{From: "ferry@example.com", Host: "smtp.example.com", Port: 587, To: []string{"ops@example.com"}, Subject: "shop is live", Body: "done"}, mailer.sent[0])
}

func TestLibraryKeepsPositions(t *testing.T) {
	_, err := New(stepDef(t, "broken", "import \"vela/op\"\n\ntemplate: {\n\tx: op.#Apply & {value: 1}\n\tparameter: {}\n}\n"), Options{})
	require.ErrorContains(t, err, "broken.cue:4:")
}

func TestWorkflowWithCUESteps(t *testing.T) {
	kube := &memKube{objects: map[string]map[string]any{}}
	defs := []*definition.Definition{
		stepDef(t, "apply-cm", `
import "vela/op"

template: {
	apply: op.#Apply & {value: {apiVersion: "v1", kind: "ConfigMap", metadata: {name: parameter.name, namespace: "default"}}}
	parameter: name: string
}`),
	}
	engine := cue.NewEngine(cue.Options{})
	executors, err := Executors(defs, Options{Engine: engine, Kube: kube})
	require.NoError(t, err)
	spec := &workflow.Spec{Steps: []workflow.Step{
		{Name: "first", Type: "apply-cm", Properties: map[string]any{"name": "one"},
			Outputs: []workflow.Output{{Name: "created", ValueFrom: "apply.value.metadata.name"}}},
		{Name: "second", Type: "apply-cm", Inputs: []workflow.Input{{From: "created", ParameterKey: "name"}}},
	}}
	st := workflow.NewState(spec, epochForTest)
	st, _, err = workflow.Run(context.Background(), spec, st, workflow.Env{Executors: executors, Evaluator: engine})
	require.NoError(t, err)
	require.Equal(t, workflow.PhaseSucceeded, st.Phase, st.Message)
	require.Equal(t, map[string]any{"created": "one"}, st.Outputs)
	require.Equal(t, 2, kube.applies)
}

func TestMoreActions(t *testing.T) {
	kube := &memKube{objects: map[string]map[string]any{"/ConfigMap/default/old": {"kind": "ConfigMap"}}}
	e, err := New(stepDef(t, "more", `
import "vela/op"

template: {
	steps: op.#Steps & {
		both: op.#ApplyInParallel & {value: [
			{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "a", namespace: "default"}},
			{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "b", namespace: "default"}},
		]}
		drop: op.#Delete & {value: {apiVersion: "v1", kind: "ConfigMap", metadata: {name: "old", namespace: "default"}}}
	}
	log: op.#Log & {data: "applied"}
	text: op.#ConvertString & {bt: 'hello'}
	list: op.#List & {resource: {apiVersion: "v1", kind: "ConfigMap"}, filter: namespace: "default"}
	parameter: {}
}`), Options{Kube: kube})
	require.NoError(t, err)
	res := execute(t, e, nil, "id", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.Contains(t, kube.objects, "/ConfigMap/default/a")
	require.Contains(t, kube.objects, "/ConfigMap/default/b")
	require.NotContains(t, kube.objects, "/ConfigMap/default/old")
	require.Equal(t, "hello", res.Value["text"].(map[string]any)["str"])
	var listed []any
	for _, it := range res.Value["list"].(map[string]any)["list"].(map[string]any)["items"].([]any) {
		listed = append(listed, it.(map[string]any)["metadata"].(map[string]any)["name"])
	}
	require.ElementsMatch(t, []any{"a", "b"}, listed, "the objects applied, not the one deleted")
}
