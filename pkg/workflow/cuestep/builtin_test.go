package cuestep

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

type memComponents struct{ applied []string }

func (c *memComponents) ApplyComponent(_ context.Context, name, cluster, ns string) (map[string]any, map[string]any, error) {
	c.applied = append(c.applied, fmt.Sprintf("%s@%s/%s", name, cluster, ns))
	return map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": name}}, nil, nil
}

// TestBuiltinStepDefinitions runs each built-in step type that is written in CUE against
// in-memory providers and a local HTTP server.
func TestBuiltinStepDefinitions(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, r.URL.Path+" "+string(body))
		mu.Unlock()
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer server.Close()
	host, _ := url.Parse(server.URL)

	reg, err := definition.Builtin()
	require.NoError(t, err)
	type fixture struct {
		kube       *memKube
		mailer     *memMailer
		components *memComponents
	}
	tests := []struct {
		step    string
		props   map[string]any
		seed    map[string]map[string]any
		want    workflow.Outcome
		message string
		check   func(t *testing.T, f fixture, res workflow.Result)
	}{
		{step: "apply-object", props: map[string]any{"value": map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "namespace": "n"}}},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, f fixture, _ workflow.Result) {
				require.Contains(t, f.kube.objects, "/ConfigMap/n/x")
			}},
		{step: "read-object", props: map[string]any{"name": "other"},
			seed: map[string]map[string]any{"/Application/default/other": {"kind": "Application", "status": map[string]any{"status": "running"}}},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, _ fixture, res workflow.Result) {
				require.Equal(t, "running", res.Value["read"].(map[string]any)["value"].(map[string]any)["status"].(map[string]any)["status"])
			}},
		{step: "read-object", props: map[string]any{"name": "absent", "kind": "ConfigMap", "apiVersion": "v1"},
			want: workflow.OutcomeFail, message: "read ConfigMap default/absent"},
		{step: "apply-component", props: map[string]any{"component": "web", "cluster": "eu-1"},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, f fixture, _ workflow.Result) {
				require.Equal(t, []string{"web@eu-1/"}, f.components.applied)
			}},
		{step: "print-message-in-status", props: map[string]any{"message": "hello"}, want: workflow.OutcomeSucceeded, message: "hello"},
		{step: "request", props: map[string]any{"url": server.URL + "/api", "method": "POST", "body": map[string]any{"a": int64(1)}},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, _ fixture, res workflow.Result) {
				require.Equal(t, `{"ok":true}`, res.Value["http"].(map[string]any)["response"].(map[string]any)["body"])
			}},
		{step: "request", props: map[string]any{"url": server.URL + "/broken"}, want: workflow.OutcomeWait, message: "answered 500"},
		{step: "webhook", props: map[string]any{"url": map[string]any{"value": server.URL + "/hook"}}, want: workflow.OutcomeSucceeded},
		{step: "webhook", props: map[string]any{"url": map[string]any{"secretRef": map[string]any{"name": "hook", "key": "url"}}, "data": map[string]any{"x": "y"}},
			seed: map[string]map[string]any{"/Secret/default/hook": {"kind": "Secret", "data": map[string]any{"url": base64.StdEncoding.EncodeToString([]byte(server.URL + "/secret-hook"))}}},
			want: workflow.OutcomeSucceeded},
		{step: "notification", props: map[string]any{"message": "shop deployed",
			"slack":   map[string]any{"url": server.URL + "/slack"},
			"webhook": map[string]any{"url": server.URL + "/generic"},
			"email":   map[string]any{"from": map[string]any{"address": "ferry@example.com", "host": "smtp.example.com"}, "to": []any{"ops@example.com"}}},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, f fixture, _ workflow.Result) {
				require.Len(t, f.mailer.sent, 1)
				require.Equal(t, "shop in default", f.mailer.sent[0].Subject)
				require.Equal(t, "shop deployed", f.mailer.sent[0].Body)
			}},
		// KubeVela's forms: URLs and passwords as {value} or {secretRef}, slack.message, dingding,
		// lark, email.content.
		{step: "notification", props: map[string]any{
			"slack":    map[string]any{"url": map[string]any{"value": server.URL + "/kv-slack"}, "message": map[string]any{"text": "hi slack", "mrkdwn": true}},
			"dingding": map[string]any{"url": map[string]any{"secretRef": map[string]any{"name": "ding", "key": "url"}}, "message": map[string]any{"msgtype": "text", "text": map[string]any{"content": "hi ding"}}},
			"lark":     map[string]any{"url": map[string]any{"value": server.URL + "/kv-lark"}, "message": map[string]any{"msg_type": "text", "content": `{"text":"hi lark"}`}},
			"email": map[string]any{"from": map[string]any{"address": "ferry@example.com", "host": "smtp.example.com",
				"password": map[string]any{"secretRef": map[string]any{"name": "smtp", "key": "password"}}},
				"to": []any{"ops@example.com"}, "content": map[string]any{"subject": "deployed", "body": "all good"}}},
			seed: map[string]map[string]any{
				"/Secret/default/ding": {"kind": "Secret", "data": map[string]any{"url": base64.StdEncoding.EncodeToString([]byte(server.URL + "/kv-ding"))}},
				"/Secret/default/smtp": {"kind": "Secret", "data": map[string]any{"password": base64.StdEncoding.EncodeToString([]byte("s3cret"))}},
			},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, f fixture, _ workflow.Result) {
				require.Len(t, f.mailer.sent, 1)
				require.Equal(t, "deployed", f.mailer.sent[0].Subject)
				require.Equal(t, "all good", f.mailer.sent[0].Body)
				require.Equal(t, "s3cret", f.mailer.sent[0].Password)
			}},
		{step: "depends-on-app", props: map[string]any{"name": "db"},
			seed: map[string]map[string]any{"/Application/default/db": {"kind": "Application", "status": map[string]any{"status": "running"}}},
			want: workflow.OutcomeSucceeded},
		{step: "depends-on-app", props: map[string]any{"name": "db"},
			seed: map[string]map[string]any{"/Application/default/db": {"kind": "Application", "status": map[string]any{"status": "runningWorkflow"}}},
			want: workflow.OutcomeWait, message: "to be running"},
		{step: "depends-on-app", props: map[string]any{"name": "db"},
			seed: map[string]map[string]any{"/Application/default/db": {"kind": "Application", "status": map[string]any{"status": "workflowFailed"}}},
			want: workflow.OutcomeFail, message: "Application default/db is workflowFailed"},
		{step: "depends-on-app", props: map[string]any{"name": "db"}, want: workflow.OutcomeWait, message: "to exist"},
		{step: "export2config", props: map[string]any{"configName": "out", "data": map[string]any{"host": "db", "port": int64(5432)}},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, f fixture, _ workflow.Result) {
				require.Equal(t, map[string]any{"host": "db", "port": "5432"}, f.kube.objects["/ConfigMap/default/out"]["data"])
			}},
		{step: "export2secret", props: map[string]any{"secretName": "reg", "kind": "docker-registry",
			"dockerRegistry": map[string]any{"username": "u", "password": "p", "server": "r.example.com"}},
			want: workflow.OutcomeSucceeded, check: func(t *testing.T, f fixture, _ workflow.Result) {
				obj := f.kube.objects["/Secret/default/reg"]
				require.Equal(t, "kubernetes.io/dockerconfigjson", obj["type"])
				var cfg map[string]any
				require.NoError(t, json.Unmarshal([]byte(obj["stringData"].(map[string]any)[".dockerconfigjson"].(string)), &cfg))
				require.Equal(t, base64.StdEncoding.EncodeToString([]byte("u:p")), cfg["auths"].(map[string]any)["r.example.com"].(map[string]any)["auth"])
			}},
	}
	for _, tt := range tests {
		t.Run(tt.step+" "+string(tt.want), func(t *testing.T) {
			def, err := reg.Get(definition.KindWorkflowStep, tt.step)
			require.NoError(t, err)
			f := fixture{kube: &memKube{objects: map[string]map[string]any{}}, mailer: &memMailer{}, components: &memComponents{}}
			for k, v := range tt.seed {
				f.kube.objects["/"+k[1:]] = v
			}
			e, err := New(def, Options{Kube: f.kube, Mailer: f.mailer, Components: f.components,
				HTTP: NewHTTP(HTTPOptions{AllowedHosts: []string{host.Hostname()}, AllowedNetworks: loopback})})
			require.NoError(t, err)
			res := execute(t, e, tt.props, tt.step+"-r0-a0", false)
			require.Equal(t, tt.want, res.Outcome, res.Message)
			require.Contains(t, res.Message, tt.message)
			if tt.check != nil {
				tt.check(t, f, res)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, posts, `/secret-hook {"x":"y"}`)
	require.Contains(t, posts, `/kv-slack {"mrkdwn":true,"text":"hi slack"}`)
	require.Contains(t, posts, `/kv-ding {"msgtype":"text","text":{"content":"hi ding"}}`)
	require.Contains(t, posts, `/kv-lark {"content":"{\"text\":\"hi lark\"}","msg_type":"text"}`)
	require.Contains(t, posts, `/slack {"text":"shop deployed"}`, "the short forms still work")
	require.Contains(t, posts, `/slack {"text":"shop deployed"}`)
	require.Contains(t, posts, `/generic {"application":"shop","namespace":"default","message":"shop deployed"}`)
	require.Contains(t, posts, `/hook {"application":"shop","namespace":"default"}`)
}
