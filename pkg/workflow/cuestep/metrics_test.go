package cuestep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/testenv"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// TestCheckMetricsAgainstPrometheus runs the check-metrics step against a real Prometheus on
// loopback (scraping itself): the step waits while the condition has held for less than
// duration and passes after; a condition that does not hold fails the step after
// failDuration; a query that does not give one number fails at once, saying so.
func TestCheckMetricsAgainstPrometheus(t *testing.T) {
	prom := testenv.StartPrometheus(t)
	u, err := url.Parse(prom)
	require.NoError(t, err)
	// Wait for the first scrape.
	require.Eventually(t, func() bool {
		resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(`up{job="prometheus"}`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var answer struct {
			Data struct {
				Result []any `json:"result"`
			} `json:"data"`
		}
		return json.Unmarshal(body, &answer) == nil && len(answer.Data.Result) == 1
	}, 30*time.Second, 200*time.Millisecond, "Prometheus never scraped itself")

	reg, err := definition.Builtin()
	require.NoError(t, err)
	def, err := reg.Get(definition.KindWorkflowStep, "check-metrics")
	require.NoError(t, err)
	e, err := New(def, Options{HTTP: NewHTTP(HTTPOptions{AllowedHosts: []string{u.Hostname()}, AllowedNetworks: loopback})})
	require.NoError(t, err)
	at := func(props map[string]any, id string, now time.Time) workflow.Result {
		t.Helper()
		res, err := e.Execute(context.Background(), workflow.StepInput{
			Step:        workflow.Step{Name: "canary", Type: "check-metrics", Properties: props},
			ExecutionID: id, Now: now, Context: map[string]any{"appName": "shop", "namespace": "default"},
		})
		require.NoError(t, err)
		return res
	}
	start := time.Now()

	healthy := map[string]any{"query": `up{job="prometheus"}`, "metricEndpoint": prom, "condition": ">=1", "duration": "10s"}
	res := at(healthy, "ok", start)
	require.Equal(t, workflow.OutcomeWait, res.Outcome, res.Message)
	require.Equal(t, `up{job="prometheus"} is 1, >=1, for 0s of 10s`, res.Message)
	res = at(healthy, "ok", start.Add(4*time.Second))
	require.Equal(t, workflow.OutcomeWait, res.Outcome, res.Message)
	require.Equal(t, `up{job="prometheus"} is 1, >=1, for 4s of 10s`, res.Message)
	res = at(healthy, "ok", start.Add(11*time.Second))
	require.Equal(t, workflow.OutcomeSucceeded, res.Outcome, res.Message)

	failing := map[string]any{"query": `sum(up)`, "metricEndpoint": prom, "condition": "<1", "failDuration": "5s"}
	res = at(failing, "bad", start)
	require.Equal(t, workflow.OutcomeWait, res.Outcome, res.Message)
	res = at(failing, "bad", start.Add(6*time.Second))
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Equal(t, "sum(up) is 1, not <1, for 6s", res.Message)

	res = at(map[string]any{"query": `up{job="nothing"}`, "metricEndpoint": prom, "condition": ">0"}, "empty", start)
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Contains(t, res.Message, `query "up{job=\"nothing\"}" at `+prom+`: the query gives 0 series; it must give one`)

	res = at(map[string]any{"query": `up`, "metricEndpoint": prom, "condition": "about 1"}, "cond", start)
	require.Equal(t, workflow.OutcomeFail, res.Outcome)
	require.Contains(t, res.Message, `condition "about 1": want an operator`)
}

// TestCheckMetricsOnAnExporter: a canary's success ratio, served by a small exporter on
// loopback and scraped by a real Prometheus, passes check-metrics once it has held for duration
// and fails it within failDuration after it drops; the step keeps the last value, the condition
// and whether it held (status progress.metric).
func TestCheckMetricsOnAnExporter(t *testing.T) {
	var ratio atomic.Value
	ratio.Store("0.99")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE canary_success_ratio gauge\ncanary_success_ratio{app=\"shop\"} %s\n", ratio.Load())
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	prom := testenv.StartPrometheus(t, ln.Addr().String())
	u, err := url.Parse(prom)
	require.NoError(t, err)

	reg, err := definition.Builtin()
	require.NoError(t, err)
	def, err := reg.Get(definition.KindWorkflowStep, "check-metrics")
	require.NoError(t, err)
	e, err := New(def, Options{HTTP: NewHTTP(HTTPOptions{AllowedHosts: []string{u.Hostname()}, AllowedNetworks: loopback})})
	require.NoError(t, err)
	props := map[string]any{"query": `canary_success_ratio{app="shop"}`, "metricEndpoint": prom, "condition": ">=0.95",
		"duration": "3s", "failDuration": "3s"}
	check := func(id string) workflow.Result {
		t.Helper()
		res, err := e.Execute(context.Background(), workflow.StepInput{
			Step:        workflow.Step{Name: "canary", Type: "check-metrics", Properties: props},
			ExecutionID: id, Now: time.Now(), Context: map[string]any{"appName": "shop", "namespace": "default"},
		})
		require.NoError(t, err)
		return res
	}
	// Until the first scrape the query gives no series: the step fails at once, saying so.
	require.Eventually(t, func() bool { return check("warm-up").Outcome != workflow.OutcomeFail }, 30*time.Second, 250*time.Millisecond,
		"Prometheus scrapes the exporter")

	var res workflow.Result
	require.Eventually(t, func() bool { res = check("good"); return res.Outcome == workflow.OutcomeSucceeded }, 20*time.Second, 500*time.Millisecond)
	require.NotNil(t, res.Progress)
	require.Equal(t, workflow.MetricReading{Query: `canary_success_ratio{app="shop"}`, Value: "0.99", Condition: ">=0.95", Met: true,
		Since: res.Progress.Metric.Since}, *res.Progress.Metric)

	ratio.Store("0.5")
	require.Eventually(t, func() bool { res = check("bad"); return res.Outcome == workflow.OutcomeFail }, 20*time.Second, 500*time.Millisecond)
	require.Contains(t, res.Message, `canary_success_ratio{app="shop"} is 0.5, not >=0.95, for`)
	require.Equal(t, "0.5", res.Progress.Metric.Value)
	require.False(t, res.Progress.Metric.Met)
}
