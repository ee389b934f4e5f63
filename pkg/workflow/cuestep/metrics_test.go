package cuestep

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
	e, err := New(def, Options{HTTP: NewHTTP(HTTPOptions{AllowedHosts: []string{u.Hostname()}})})
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
