package cuestep

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// TestProviderPackages runs steps written against KubeVela's provider packages (vela/kube,
// vela/builtin, vela/http, vela/util) in their $params/$returns form: the same actions as
// vela/op, with results in $returns.
func TestProviderPackages(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Method)
		fmt.Fprint(w, `{"version":"2"}`)
	}))
	defer server.Close()
	u, _ := url.Parse(server.URL)
	kube := &memKube{objects: map[string]map[string]any{}}

	e, err := New(stepDef(t, "kubevela-style", `
import (
	"encoding/json"
	"vela/kube"
	"vela/builtin"
	"vela/http"
	vutil "vela/util"
)

template: {
	get: http.#HTTPGet & {$params: url: parameter.url}
	apply: kube.#Apply & {
		$params: value: {
			apiVersion: "v1"
			kind:       "ConfigMap"
			metadata: {name: parameter.name, namespace: context.namespace}
			data: version: json.Unmarshal(get.$returns.body).version
		}
	}
	wait: builtin.#ConditionalWait & {
		$params: {
			continue: apply.$returns.value.status.ready
			message:  "waiting for \(parameter.name)"
		}
	}
	read: kube.#Read & {$params: value: {apiVersion: "v1", kind: "Secret", metadata: {name: "missing", namespace: "default"}}}
	if read.$returns.err != _|_ {
		log: vutil.#Log & {$params: data: read.$returns.err}
		note: builtin.#Message & {$params: message: "no secret; status \(get.$returns.statusCode), seen \(get.$returns.header["X-Seen"][0])"}
	}
	parameter: {name: string, url: string}
}`), Options{Kube: kube, HTTP: NewHTTP(HTTPOptions{AllowedHosts: []string{u.Hostname()}, AllowedNetworks: loopback})})
	require.NoError(t, err)
	props := map[string]any{"name": "cm", "url": server.URL}

	res := execute(t, e, props, "s-r0-a0", false)
	require.Equal(t, workflow.OutcomeWait, res.Outcome, res.Message)
	require.Equal(t, "2", kube.objects["/ConfigMap/default/cm"]["data"].(map[string]any)["version"], "the HTTP response's body reached the object")

	kube.objects["/ConfigMap/default/cm"]["status"] = map[string]any{"ready": true}
	res = execute(t, e, props, "s-r0-a1", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.Equal(t, "no secret; status 200, seen GET", res.Message)
	returns := res.Value["apply"].(map[string]any)["$returns"].(map[string]any)
	require.Equal(t, true, returns["value"].(map[string]any)["status"].(map[string]any)["ready"])
}

// TestProviderPackageActionsFerryLacks: an action of a provider package Ferry does not
// implement compiles, and a step that reaches it fails naming it.
func TestProviderPackageActionsFerryLacks(t *testing.T) {
	for _, tt := range []struct{ pkg, action, params, want string }{
		{"vela/builtin", "#DoVar", `{method: "Get", path: "a"}`, "vela/builtin #DoVar is not supported by Ferry"},
		{"vela/op", "#DeployCloudResource", `{}`, "vela/op #DeployCloudResource (Ferry does not run Terraform components; apply a Terraform Configuration with apply-terraform-config) is not supported by Ferry"},
		{"vela/kube", "#Patch", `{value: {apiVersion: "v1", kind: "ConfigMap"}, patch: {data: a: "b"}}`, "vela/kube #Patch is not supported by Ferry"},
	} {
		t.Run(tt.pkg+tt.action, func(t *testing.T) {
			e, err := New(stepDef(t, "lacking", fmt.Sprintf(`
import p %q

template: {
	act: p.%s & {$params: %s}
	parameter: {}
}`, tt.pkg, tt.action, tt.params)), Options{Kube: &memKube{objects: map[string]map[string]any{}}})
			require.NoError(t, err)
			res := execute(t, e, nil, "id", false)
			require.Equal(t, workflow.OutcomeFail, res.Outcome)
			require.Equal(t, "act: "+tt.want, res.Message)
		})
	}
}

// TestConfigs runs the config steps in order: create-config writes a Secret as KubeVela keeps
// configs, read-config and list-config give its properties back, delete-config removes it.
func TestConfigs(t *testing.T) {
	kube := &memKube{objects: map[string]map[string]any{}}
	reg, err := definition.Builtin()
	require.NoError(t, err)
	step := func(name string) *Executor {
		t.Helper()
		def, err := reg.Get(definition.KindWorkflowStep, name)
		require.NoError(t, err)
		e, err := New(def, Options{Kube: kube})
		require.NoError(t, err)
		return e
	}
	run := func(name string, props map[string]any) workflow.Result {
		t.Helper()
		res := execute(t, step(name), props, name, false)
		require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
		return res
	}
	run("create-config", map[string]any{"name": "registry", "template": "vela-system/image-registry",
		"config": map[string]any{"registry": "ghcr.io", "insecure": false, "port": int64(443)}})
	secret := kube.objects["/Secret/default/registry"]
	require.NotNil(t, secret)
	require.Equal(t, map[string]any{"config.oam.dev/catalog": "velacore-config", "config.oam.dev/type": "image-registry"},
		secret["metadata"].(map[string]any)["labels"])

	res := run("read-config", map[string]any{"name": "registry"})
	want := map[string]any{"registry": "ghcr.io", "insecure": false, "port": int64(443)}
	require.Equal(t, want, res.Value["output"].(map[string]any)["$returns"].(map[string]any)["config"])

	run("create-config", map[string]any{"name": "other-type", "template": "helm-repository", "config": map[string]any{"url": "x"}})
	res = run("list-config", map[string]any{"template": "image-registry"})
	require.Equal(t, []any{map[string]any{"name": "registry", "alias": "", "description": "", "config": want}},
		res.Value["output"].(map[string]any)["$returns"].(map[string]any)["configs"])

	run("delete-config", map[string]any{"name": "registry"})
	require.NotContains(t, kube.objects, "/Secret/default/registry")
	res = execute(t, step("read-config"), map[string]any{"name": "registry"}, "again", false)
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Contains(t, res.Message, "read config default/registry")
}

type fixedTopology struct{ placements map[string][]Placement }

func (f fixedTopology) Placements(policies []string) ([]Placement, error) {
	if len(policies) == 0 {
		policies = []string{"all"}
	}
	var out []Placement
	for _, p := range policies {
		pl, ok := f.placements[p]
		if !ok {
			return nil, fmt.Errorf("policy %q is not a topology policy of the Application", p)
		}
		out = append(out, pl...)
	}
	return out, nil
}

func (fixedTopology) Clusters() []string { return []string{"eu-1", "us-1"} }

// TestPlacementsAndCleanJobs: export-data writes to each cluster of the topology it names (or
// of all of them); a topology that is not there fails the step; clean-jobs deletes the Jobs and
// Pods that carry its labels and nothing else.
func TestPlacementsAndCleanJobs(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	kube := &memKube{objects: map[string]map[string]any{}}
	topo := fixedTopology{placements: map[string][]Placement{"all": {{Cluster: "local"}, {Cluster: "eu-1"}}, "eu": {{Cluster: "eu-1"}}}}
	step := func(name string) *Executor {
		def, err := reg.Get(definition.KindWorkflowStep, name)
		require.NoError(t, err)
		e, err := New(def, Options{Kube: kube, Topology: topo})
		require.NoError(t, err)
		return e
	}
	res := execute(t, step("export-data"), map[string]any{"name": "cfg", "data": map[string]any{"a": "b"}}, "1", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.Contains(t, kube.objects, "local/ConfigMap/default/cfg")
	require.Contains(t, kube.objects, "eu-1/ConfigMap/default/cfg")

	res = execute(t, step("export-data"), map[string]any{"name": "only-eu", "data": map[string]any{}, "topology": "eu"}, "2", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.Contains(t, kube.objects, "eu-1/ConfigMap/default/only-eu")
	require.NotContains(t, kube.objects, "local/ConfigMap/default/only-eu")

	res = execute(t, step("export-data"), map[string]any{"data": map[string]any{}, "topology": "us"}, "3", false)
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Equal(t, `getPlacements: policy "us" is not a topology policy of the Application`, res.Message)

	for _, obj := range []map[string]any{
		{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "migrate", "namespace": "default", "labels": map[string]any{"workflow.oam.dev/name": "shop"}}},
		{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "migrate-x1", "namespace": "default", "labels": map[string]any{"workflow.oam.dev/name": "shop"}}},
		{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "other", "namespace": "default", "labels": map[string]any{"workflow.oam.dev/name": "blog"}}},
	} {
		_, err := kube.Apply(context.Background(), "", obj)
		require.NoError(t, err)
	}
	res = execute(t, step("clean-jobs"), nil, "4", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.NotContains(t, kube.objects, "/Job/default/migrate")
	require.NotContains(t, kube.objects, "/Pod/default/migrate-x1")
	require.Contains(t, kube.objects, "/Job/default/other", "another app's Job stays")
}

type recordingDeployer struct {
	calls []string
	done  bool
}

func (d *recordingDeployer) Deploy(_ context.Context, req workflow.DeployRequest) (workflow.DeployResult, error) {
	d.calls = append(d.calls, fmt.Sprintf("%s %v %d", req.Step, req.Policies, req.Parallelism))
	if !d.done {
		return workflow.DeployResult{Message: "waiting for web"}, nil
	}
	return workflow.DeployResult{Done: true, Message: "deployed"}, nil
}

// TestDeployAction: a step's deploy action hands the step to the Deployer, which delivers what
// the planner made of it; the step waits until that is done.
func TestDeployAction(t *testing.T) {
	d := &recordingDeployer{}
	e, err := New(stepDef(t, "deploy-with-note", `
import "vela/multicluster"

template: {
	deploy: multicluster.#Deploy & {$params: {policies: parameter.policies, parallelism: 2}}
	parameter: policies: [...string]
}`), Options{Deployer: d})
	require.NoError(t, err)
	props := map[string]any{"policies": []any{"eu"}}
	res := execute(t, e, props, "1", false)
	require.Equal(t, workflow.OutcomeWait, res.Outcome)
	require.Equal(t, "waiting for web", res.Message)
	d.done = true
	res = execute(t, e, props, "1", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.Equal(t, "deployed", res.Message)
	require.Equal(t, []string{"s [eu] 2", "s [eu] 2"}, d.calls)
}

// TestServiceEndpoints: the endpoints of a LoadBalancer Service are its addresses, of a
// ClusterIP Service its name in the cluster, of an Ingress its hosts (HTTPS where its TLS covers
// them); a component filter keeps those of the components named.
func TestServiceEndpoints(t *testing.T) {
	owned := func(component string) map[string]any {
		return map[string]any{"app.oam.dev/name": "shop", "app.oam.dev/namespace": "default", "app.oam.dev/component": component}
	}
	kube := &memKube{objects: map[string]map[string]any{}}
	for _, obj := range []map[string]any{
		{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "api", "namespace": "default", "labels": owned("api")},
			"spec":   map[string]any{"type": "LoadBalancer", "ports": []any{map[string]any{"port": int64(443), "name": "tls"}}},
			"status": map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": "203.0.113.7"}}}}},
		{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "db", "namespace": "default", "labels": owned("db")},
			"spec": map[string]any{"ports": []any{map[string]any{"port": int64(5432)}}}},
		{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": map[string]any{"name": "api", "namespace": "default", "labels": owned("api")},
			"spec": map[string]any{"tls": []any{map[string]any{"hosts": []any{"shop.example.com"}}},
				"rules": []any{map[string]any{"host": "shop.example.com", "http": map[string]any{"paths": []any{map[string]any{"path": "/api"}}}}}}},
	} {
		_, err := kube.Apply(context.Background(), "", obj)
		require.NoError(t, err)
	}
	reg, err := definition.Builtin()
	require.NoError(t, err)
	def, err := reg.Get(definition.KindWorkflowStep, "collect-service-endpoints")
	require.NoError(t, err)
	e, err := New(def, Options{Kube: kube})
	require.NoError(t, err)

	res := execute(t, e, map[string]any{"components": []any{"api"}, "protocal": "https"}, "1", false) //nolint:misspell // KubeVela spells the parameter so
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	value := res.Value["value"].(map[string]any)
	var hosts []string
	for _, ep := range value["endpoints"].([]any) {
		e := ep.(map[string]any)["endpoint"].(map[string]any)
		path, _ := e["path"].(string)
		hosts = append(hosts, fmt.Sprintf("%v:%v%s inner=%v", e["host"], e["port"], path, e["inner"]))
	}
	require.ElementsMatch(t, []string{"203.0.113.7:443 inner=false", "shop.example.com:443/api inner=false"}, hosts)

	res = execute(t, e, map[string]any{"components": []any{"db"}}, "2", false)
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	require.Equal(t, "http://db.default:5432", res.Value["value"].(map[string]any)["url"])

	res = execute(t, e, map[string]any{"components": []any{"db"}, "outer": true}, "3", false)
	require.Equal(t, workflow.OutcomeWait, res.Outcome, "db is reached inside the cluster only")
}

type recordingRestarter struct{ values []string }

func (r *recordingRestarter) ScheduleRestart(_ context.Context, value string) error {
	r.values = append(r.values, value)
	return nil
}

// TestRestartWorkflowSchedules: restart-workflow hands the controller a time (at, or after a
// duration from the step's time) or an interval (every); more or fewer than one of them fails.
func TestRestartWorkflowSchedules(t *testing.T) {
	reg, err := definition.Builtin()
	require.NoError(t, err)
	def, err := reg.Get(definition.KindWorkflowStep, "restart-workflow")
	require.NoError(t, err)
	rs := &recordingRestarter{}
	e, err := New(def, Options{Restarter: rs})
	require.NoError(t, err)
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	run := func(props map[string]any) workflow.Result {
		t.Helper()
		res, err := e.Execute(context.Background(), workflow.StepInput{Step: workflow.Step{Name: "later", Type: "restart-workflow", Properties: props},
			ExecutionID: "1", Now: now, Context: map[string]any{"appName": "shop", "namespace": "default"}})
		require.NoError(t, err)
		return res
	}
	for _, props := range []map[string]any{{"at": "2026-12-01T08:00:00+01:00"}, {"after": "2d"}, {"every": "24h"}} {
		res := run(props)
		require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)
	}
	require.Equal(t, []string{"2026-12-01T07:00:00Z", "2026-12-01T10:00:00Z", "24h"}, rs.values)
	res := run(map[string]any{"after": "1h", "every": "1h"})
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Equal(t, "give exactly one of at, after and every (found 2)", res.Message)
}
